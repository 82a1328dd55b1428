// The provenance as a Sigstore bundle among the image's OCI referrers, on the rig's registry
// (distribution 2.8: no referrers API, its manifest PUT answers no OCI-Subject). With
// `oci-referrers: always` the referrers tag schema's index (`sha256-<hex>`) lists one bundle per
// pushed digest, and the real cosign (2.6.5) verifies it: `verify-attestation --new-bundle-format
// --key`, which reads referrers as go-containerregistry's remote.Referrers does (the API, else
// that tag). cosign 2.5+ also switches plain `verify`/`verify-attestation` to such bundles when it
// finds one (cmd/cosign/cli/verify/verify_attestation.go, VerifyAttestationCommand.Exec: "Check
// to see if we are using the new bundle format"), and then wants a trusted root, which an offline
// verifier has only by `--trusted-root`: why `auto`, the default, writes no fallback tag.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ExecResult } from '../../src/core/exec.js'
import { MediaType, RegistryClient } from '../../src/core/registry/client.js'
import { parseRepository } from '../../src/core/registry/reference.js'
import {
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp,
  type PipelineRun
} from '../helpers/pipeline.js'
import {
  cosign as cosignIn,
  EMPTY_TRUSTED_ROOT,
  firstStatement,
  keyPair,
  verifyKeyBundle
} from '../helpers/cosign.js'
import { loadRig, makeDockerConfig, rigLogins, uniqueRepo } from '../helpers/rig.js'

const rig = loadRig()
const SHA = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00'
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json'

let example: ExampleApp
let dir: string
let dockerConfig: string

beforeAll(async () => {
  example = await exampleApp()
  dir = await mkdtemp(path.join(tmpdir(), 'signing-referrers-'))
  dockerConfig = await makeDockerConfig(rigLogins(rig, { hub: false }))
  await writeFile(path.join(dir, 'root.json'), JSON.stringify(EMPTY_TRUSTED_ROOT))
})
afterAll(async () => {
  for (const d of [dir, dockerConfig, example?.dir])
    if (d) await rm(d, { recursive: true, force: true })
})

function ok(r: PipelineRun): NonNullable<PipelineRun['result']> {
  if (r.error) throw r.error
  return r.result!
}

async function signedRun(
  registry: string,
  key: string,
  inputs: Record<string, string>
): Promise<PipelineRun> {
  return runWithInputs(
    {
      ...rigInputs(rig),
      'build-args': 'BUILD_APP\nBUILD_GIT_SHA\nVERSION=1.2.3',
      'git-sha': SHA,
      app: 'example',
      registry,
      'registry-username': rig.registryUsername,
      'registry-password': rig.registryPassword,
      sign: 'key',
      'signing-key': key,
      ...inputs
    },
    { env: pipelineEnv(rig), cwd: example.dir }
  )
}

const client = (): RegistryClient =>
  new RegistryClient({
    credentials: () => ({ username: rig.registryUsername, password: rig.registryPassword })
  })

/** cosign with the rig's login. */
const cosign = (args: string[]): Promise<ExecResult> => cosignIn(args, dockerConfig, rig)

/** cosign's check of the bundles among an image's referrers, with the key in `pubFile`. */
const verifyBundleAttestation = (pubFile: string, image: string): Promise<ExecResult> =>
  cosign([
    'verify-attestation',
    '--new-bundle-format',
    '--trusted-root',
    path.join(dir, 'root.json'),
    '--key',
    path.join(dir, pubFile),
    '--type',
    'slsaprovenance1',
    image
  ])

interface Statement {
  subject: { digest: { sha256: string } }[]
  predicateType: string
  predicate: {
    buildDefinition: {
      internalParameters: { buildId: string }
      resolvedDependencies: { digest: { gitCommit?: string } }[]
    }
  }
}

describe('provenance bundles as OCI referrers (cosign --new-bundle-format verifies them)', () => {
  it('oci-referrers: always: the referrers tag of every pushed digest lists its bundle, which cosign and @sigstore/verify accept with the key', async () => {
    const { key, pub } = keyPair()
    await writeFile(path.join(dir, 'always.pub'), pub)
    const registry = uniqueRepo('referrers', rig)
    const r = await signedRun(registry, key, { 'oci-referrers': 'always' })
    const result = ok(r)
    // the key is in no bundle and no line
    const secretLines = key.split('\n').filter(l => l.length > 20 && !l.startsWith('-----'))
    const digests = [...new Set(Object.values(result.digests))]
    expect(digests.length).toBeGreaterThan(1)
    const repo = parseRepository(registry)
    for (const digest of digests) {
      const tag = digest.replace(':', '-')
      const index = await client().getManifest({ ...repo, tag })
      expect(index.mediaType).toBe(MediaType.ociIndex)
      const bundles = (index.json.manifests ?? []).filter(m => m.artifactType === BUNDLE)
      // one per digest (web and worker share a build: one bundle for both)
      expect(bundles).toHaveLength(1)
      expect(bundles[0]!.annotations?.['dev.sigstore.bundle.predicateType']).toBe(
        'https://slsa.dev/provenance/v1'
      )
      const referrer = await client().getManifest({ ...repo, digest: bundles[0]!.digest })
      expect(referrer.json.subject).toMatchObject({ digest })
      expect(r.log.lines).toContain(
        `provenance of ${registry}@${digest}: also a Sigstore bundle in its referrers tag :${tag}`
      )

      const a = await verifyBundleAttestation('always.pub', `${registry}@${digest}`)
      expect(`${a.exitCode} ${a.stderr}`).toMatch(/^0 /)
      const st = firstStatement<Statement>(a.stdout)
      expect(st.subject[0]!.digest.sha256).toBe(digest.slice('sha256:'.length))
      expect(st.predicate.buildDefinition.internalParameters.buildId).toBe(result.buildId)
      expect(st.predicate.buildDefinition.resolvedDependencies[0]!.digest.gitCommit).toBe(SHA)

      // @sigstore/verify, with the public key under the bundle's hint
      const layer = referrer.json.layers![0]!
      const bundle = JSON.parse((await client().readBlob(repo, layer.digest)).toString()) as unknown
      expect(() => verifyKeyBundle(bundle, pub)).not.toThrow()
      for (const line of secretLines) {
        expect(JSON.stringify(bundle)).not.toContain(line)
        expect(r.log.lines.join('\n')).not.toContain(line)
      }
      expect(() => verifyKeyBundle(bundle, keyPair().pub)).toThrow()
    }

    // Another key: cosign verifies nothing.
    await writeFile(path.join(dir, 'other.pub'), keyPair().pub)
    const wrong = await verifyBundleAttestation('other.pub', `${registry}@${digests[0]}`)
    expect(wrong.exitCode).not.toBe(0)

    // What the default avoids: offline, cosign's plain verify now finds the bundle and wants a root.
    const plain = await cosign([
      'verify',
      '--key',
      path.join(dir, 'always.pub'),
      `${registry}@${digests[0]}`
    ])
    expect(`${plain.exitCode} ${plain.stderr}`).toMatch(
      /trusted root is required when using new bundle format/
    )
  })

  it('oci-referrers: auto (default) on a registry without the referrers API: no referrers tag; plain cosign verify still works', async () => {
    const { key, pub } = keyPair()
    await writeFile(path.join(dir, 'auto.pub'), pub)
    const registry = uniqueRepo('referrers-auto', rig)
    // (and github-attestation, which only the action writes: said once)
    const r = await signedRun(registry, key, { 'github-attestation': 'true' })
    const result = ok(r)
    expect(r.log.lines.filter(l => l.startsWith('github-attestation:'))).toEqual([
      'github-attestation: GitHub artifact attestations are written by the GitHub Action only: none written'
    ])
    const repo = parseRepository(registry)
    for (const digest of new Set(Object.values(result.digests))) {
      expect(
        await client().findManifest({ ...repo, tag: digest.replace(':', '-') })
      ).toBeUndefined()
      const v = await cosign([
        'verify',
        '--key',
        path.join(dir, 'auto.pub'),
        `${registry}@${digest}`
      ])
      expect(`${v.exitCode} ${v.stderr}`).toMatch(/^0 /)
      const a = await cosign([
        'verify-attestation',
        '--key',
        path.join(dir, 'auto.pub'),
        '--type',
        'slsaprovenance1',
        `${registry}@${digest}`
      ])
      expect(`${a.exitCode} ${a.stderr}`).toMatch(/^0 /)
    }
    expect(r.log.lines.filter(l => l.startsWith('provenance of '))).toEqual([])
  })
})
