// Keyless signing through Sigstore, checked by cosign itself: a run given the CI's OIDC token
// (a minted GitHub-like token) signs every pushed digest with a Fulcio certificate of the mock
// Sigstore instance (@sigstore/mock's Fulcio, Rekor and TSA on loopback), logged in its Rekor.
// `cosign verify --certificate-identity-regexp --certificate-oidc-issuer` and
// `cosign verify-attestation --type slsaprovenance1` accept them against the mock's roots, given
// as cosign's environment (SIGSTORE_ROOT_FILE, SIGSTORE_REKOR_PUBLIC_KEY,
// SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: cosign's pkg/cosign/env).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp,
  type PipelineRun
} from '../helpers/pipeline.js'
import { firstStatement } from '../helpers/cosign.js'
import { loadRig, makeDockerConfig, rigLogins, run, uniqueRepo } from '../helpers/rig.js'
import {
  cosignTrusting,
  GITHUB_ISSUER,
  githubToken,
  startSigstoreMock,
  type SigstoreMock
} from '../helpers/sigstore-mock.js'

const rig = loadRig()
const ARGS = 'BUILD_APP\nBUILD_GIT_SHA\nVERSION=1.2.3'
const SHA = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00'

let example: ExampleApp
let dir: string
let dockerConfig: string
let mock: SigstoreMock
let cosignEnv: Record<string, string>

beforeAll(async () => {
  example = await exampleApp()
  dir = await mkdtemp(path.join(tmpdir(), 'signing-keyless-'))
  dockerConfig = await makeDockerConfig(rigLogins(rig, { hub: false }))
  mock = await startSigstoreMock()
  await writeFile(path.join(dir, 'trusted_root.json'), mock.trustedRoot)
  cosignEnv = await cosignTrusting(mock, dir)
})
afterAll(async () => {
  await mock?.close()
  for (const d of [dir, dockerConfig, example?.dir])
    if (d) await rm(d, { recursive: true, force: true })
})

function ok(r: PipelineRun): NonNullable<PipelineRun['result']> {
  if (r.error) throw r.error
  return r.result!
}

/** cosign against the rig's registry and the mock's roots (its transparency log checked). */
async function cosign(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await run(
    path.join(rig.rigBin, 'cosign'),
    [...args, '--allow-insecure-registry', '--allow-http-registry'],
    { rig, dockerConfig, env: cosignEnv }
  )
  return { code: r.exitCode, out: r.stdout, err: r.stderr }
}

/** A keyless run of acme/app on main through the mock, pushing to `registry`. */
const runKeyless = (
  registry: string,
  inputs: Record<string, string>,
  idToken: (audience: string) => Promise<string | undefined>
): Promise<PipelineRun> =>
  runWithInputs(
    {
      ...rigInputs(rig),
      'build-args': ARGS,
      'git-sha': SHA,
      app: 'example',
      registry,
      'registry-username': rig.registryUsername,
      'registry-password': rig.registryPassword,
      'sigstore-fulcio-url': mock.fulcioUrl,
      ...inputs
    },
    { env: pipelineEnv(rig), cwd: example.dir, idToken }
  )

const identity = (ref: string): string[] => [
  '--certificate-identity-regexp',
  `^https://github\\.com/acme/app/\\.github/workflows/.*@${ref.replace(/\//g, '\\/')}$`,
  '--certificate-oidc-issuer',
  GITHUB_ISSUER
]

describe('keyless signing (cosign verifies against the mock Sigstore)', () => {
  it('signs every pushed digest with one certificate; cosign verify and verify-attestation accept it', async () => {
    const registry = uniqueRepo('signing-keyless', rig)
    const token = githubToken('acme/app', 'refs/heads/main')
    const audiences: string[] = []
    const r = await runKeyless(
      registry,
      { 'sigstore-rekor-url': mock.rekorUrl },
      async audience => {
        audiences.push(audience)
        return token
      }
    )
    const result = ok(r)
    const digests = [...new Set(Object.values(result.digests))]
    expect(audiences.every(a => a === 'sigstore')).toBe(true)
    expect(r.log.lines.filter(l => l.startsWith('signed '))).toHaveLength(digests.length)
    expect(r.log.lines.filter(l => / keyless \(Sigstore\)$/.test(l))).toHaveLength(digests.length)
    // One certificate for the run, whatever the number of images.
    expect(mock.calls.fulcio).toBe(1)
    // The token is a secret: in no log line nor output.
    for (const text of [r.log.lines.join('\n'), JSON.stringify(result)]) {
      expect(text).not.toContain(token)
      expect(text).not.toContain(token.split('.')[1])
    }

    for (const digest of digests) {
      const image = `${registry}@${digest}`
      const v = await cosign(['verify', ...identity('refs/heads/main'), image])
      expect(`${v.code} ${v.err}`).toMatch(/^0 /)
      expect(v.out).toContain(digest)
      const a = await cosign([
        'verify-attestation',
        ...identity('refs/heads/main'),
        '--type',
        'slsaprovenance1',
        image
      ])
      expect(`${a.code} ${a.err}`).toMatch(/^0 /)
      const st = firstStatement<{
        subject: { digest: { sha256: string } }[]
        predicate: { buildDefinition: { internalParameters: { buildId: string } } }
      }>(a.out)
      expect(st.subject[0]!.digest.sha256).toBe(digest.slice('sha256:'.length))
      expect(st.predicate.buildDefinition.internalParameters.buildId).toBe(result.buildId)
      // Another identity is refused.
      const other = await cosign(['verify', ...identity('refs/pull/7/merge'), image])
      expect(other.code).not.toBe(0)
    }
  })

  it('without a transparency log, timestamps: cosign verifies with the TSA chain', async () => {
    const registry = uniqueRepo('signing-keyless-tsa', rig)
    await writeFile(path.join(dir, 'tsa.pem'), mock.tsaChainPem)
    const r = await runKeyless(
      registry,
      { sign: 'keyless', 'sigstore-rekor-url': 'none', 'sigstore-tsa-url': mock.tsaUrl },
      async () => githubToken('acme/app', 'refs/heads/main')
    )
    const result = ok(r)
    const tsa = [
      '--use-signed-timestamps',
      '--timestamp-certificate-chain',
      path.join(dir, 'tsa.pem'),
      '--insecure-ignore-tlog'
    ]
    for (const digest of new Set(Object.values(result.digests))) {
      const image = `${registry}@${digest}`
      const v = await cosign(['verify', ...identity('refs/heads/main'), ...tsa, image])
      expect(`${v.code} ${v.err}`).toMatch(/^0 /)
      const a = await cosign([
        'verify-attestation',
        ...identity('refs/heads/main'),
        ...tsa,
        '--type',
        'slsaprovenance1',
        image
      ])
      expect(`${a.code} ${a.err}`).toMatch(/^0 /)
    }
  })
})
