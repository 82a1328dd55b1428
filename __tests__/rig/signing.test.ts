// Signed images, checked by cosign itself (the rig builds github.com/sigstore/cosign/v2 at a
// pinned version, scripts/rig/tools.sh): every digest a run pushed has a signature that
// `cosign verify --key` accepts and a SLSA v1 provenance that `cosign verify-attestation --type
// slsaprovenance1` accepts, naming that digest, the commit and the build id. cosign's key mode
// without a transparency log is `--insecure-ignore-tlog` (an air-gapped registry's case).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import {
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp,
  type PipelineRun
} from '../helpers/pipeline.js'
import { startRackServer } from '../helpers/rack-server.js'
import { cosign as cosignIn, firstStatement, keyPair } from '../helpers/cosign.js'
import { loadRig, makeDockerConfig, REPO_ROOT, rigLogins, uniqueRepo } from '../helpers/rig.js'

const rig = loadRig()
const ARGS = 'BUILD_APP\nBUILD_GIT_SHA\nVERSION=1.2.3'
const SHA = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00'

let example: ExampleApp
let dir: string
let dockerConfig: string

beforeAll(async () => {
  example = await exampleApp()
  dir = await mkdtemp(path.join(tmpdir(), 'signing-'))
  dockerConfig = await makeDockerConfig(rigLogins(rig, { hub: false }))
})
afterAll(async () => {
  for (const d of [dir, dockerConfig, example?.dir])
    if (d) await rm(d, { recursive: true, force: true })
})

function ok(r: PipelineRun): NonNullable<PipelineRun['result']> {
  if (r.error) throw r.error
  return r.result!
}

const runWith = (inputs: Record<string, string>): Promise<PipelineRun> =>
  runWithInputs(
    { ...rigInputs(rig), 'build-args': ARGS, 'git-sha': SHA, ...inputs },
    { env: pipelineEnv(rig), cwd: example.dir }
  )

/** cosign with the rig's login. */
async function cosign(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await cosignIn(args, dockerConfig, rig)
  return { code: r.exitCode, out: r.stdout, err: r.stderr }
}

interface Statement {
  subject: { name: string; digest: { sha256: string } }[]
  predicateType: string
  predicate: {
    buildDefinition: {
      externalParameters: { app: string; services: string[] }
      internalParameters: { buildId: string; reuseKey?: string }
      resolvedDependencies: { digest: { gitCommit?: string } }[]
    }
  }
}

describe('signed images and provenance (cosign verifies them)', () => {
  it('signs every pushed digest once: cosign verify and verify-attestation accept it', async () => {
    const { key, pub } = keyPair('pa55-word-for-the-key')
    await writeFile(path.join(dir, 'good.pub'), pub)
    const registry = uniqueRepo('signing', rig)
    const r = await runWith({
      app: 'example',
      registry,
      'registry-username': rig.registryUsername,
      'registry-password': rig.registryPassword,
      sign: 'key',
      'signing-key': key,
      'signing-key-password': 'pa55-word-for-the-key',
      export: path.join(dir, 'build.tgz')
    })
    const result = ok(r)
    const digests = [...new Set(Object.values(result.digests))]
    // web and worker share a build: one signature for both.
    expect(result.digests.web).toBe(result.digests.worker)
    expect(r.log.lines.filter(l => l.startsWith('signed '))).toHaveLength(digests.length)

    const busybox = new Map<string, string | undefined>()
    const reuseKeys = new Map<string, string | undefined>()
    for (const digest of digests) {
      const image = `${registry}@${digest}`
      const v = await cosign(['verify', '--key', path.join(dir, 'good.pub'), image])
      expect(`${v.code} ${v.err}`).toMatch(/^0 /)
      expect(v.out).toContain(digest)

      const a = await cosign([
        'verify-attestation',
        '--key',
        path.join(dir, 'good.pub'),
        '--type',
        'slsaprovenance1',
        image
      ])
      expect(`${a.code} ${a.err}`).toMatch(/^0 /)
      const st = firstStatement<Statement>(a.out)
      expect(st.predicateType).toBe('https://slsa.dev/provenance/v1')
      expect(st.subject[0]!.digest.sha256).toBe(digest.slice('sha256:'.length))
      expect(st.predicate.buildDefinition.internalParameters.buildId).toBe(result.buildId)
      reuseKeys.set(digest, st.predicate.buildDefinition.internalParameters.reuseKey)
      expect(st.predicate.buildDefinition.resolvedDependencies[0]!.digest.gitCommit).toBe(SHA)
      expect(st.predicate.buildDefinition.externalParameters.app).toBe('example')
      // Every build of the example starts FROM busybox: named with the digest it resolved to.
      const deps = st.predicate.buildDefinition.resolvedDependencies as {
        uri?: string
        digest: { sha256?: string }
      }[]
      busybox.set(digest, deps.find(d => d.uri === 'oci://busybox')?.digest.sha256)
    }
    const built = result.services.filter(x => x.build !== null)
    expect(built.length).toBeGreaterThan(0)
    for (const x of built) expect(busybox.get(x.digest)).toMatch(/^[0-9a-f]{64}$/)
    // A built image names the content key it was pushed under (what a later run reuses).
    for (const x of built) expect(reuseKeys.get(x.digest)).toMatch(/^[0-9a-f]{12,}$/)
    const web = await cosign([
      'verify-attestation',
      '--key',
      path.join(dir, 'good.pub'),
      '--type',
      'slsaprovenance1',
      `${registry}@${result.digests.web}`
    ])
    expect(
      firstStatement<Statement>(web.out).predicate.buildDefinition.externalParameters.services
    ).toEqual(['web', 'worker'])

    // Another key's public half verifies nothing.
    await writeFile(path.join(dir, 'other.pub'), keyPair().pub)
    const wrong = await cosign([
      'verify',
      '--key',
      path.join(dir, 'other.pub'),
      `${registry}@${digests[0]}`
    ])
    expect(wrong.code).not.toBe(0)

    // Neither the key nor its password is in the log, the result (outputs) or the export.
    const exported = gunzipSync(await readFile(result.exportPath)).toString('latin1')
    for (const text of [r.log.lines.join('\n'), JSON.stringify(result), exported]) {
      expect(text).not.toContain('pa55-word-for-the-key')
      for (const line of key.split('\n').filter(l => l.length > 20 && !l.startsWith('-----'))) {
        expect(text).not.toContain(line)
      }
    }
  })

  it("signs through the rack's registry, before the release: build and release as without signing", async () => {
    const server = await startRackServer({
      registry: {
        host: rig.registry,
        username: rig.registryUsername,
        password: rig.registryPassword
      }
    })
    try {
      const { key, pub } = keyPair()
      await writeFile(path.join(dir, 'rack.pub'), pub)
      const app = `signed-${Date.now().toString(36)}`
      server.addApp(app)
      const result = ok(await runWith({ app, 'rack-url': server.rackUrl, 'signing-key': key }))
      expect(server.buildsOf(app).map(b => b.status)).toEqual(['complete'])
      expect(server.releasesOf(app).map(x => x.build)).toEqual([result.buildId])
      // The rack's repository is the rig registry's <app>: cosign checks it there.
      const v = await cosign([
        'verify',
        '--key',
        path.join(dir, 'rack.pub'),
        `${rig.registry}/${app}@${result.digests.web}`
      ])
      expect(`${v.code} ${v.err}`).toMatch(/^0 /)
    } finally {
      await server.close()
    }
  })

  it('signs with a key `cosign generate-key-pair` made: cosign verifies with its cosign.pub', async () => {
    const fixtures = path.join(REPO_ROOT, '__tests__', 'fixtures', 'cosign')
    const registry = uniqueRepo('signing-cosign-key', rig)
    const result = ok(
      await runWith({
        app: 'example',
        registry,
        'registry-username': rig.registryUsername,
        'registry-password': rig.registryPassword,
        'signing-key': await readFile(path.join(fixtures, 'cosign.key'), 'utf8'),
        'signing-key-password': 'fixture-pass'
      })
    )
    for (const digest of new Set(Object.values(result.digests))) {
      const pub = path.join(fixtures, 'cosign.pub')
      const v = await cosign(['verify', '--key', pub, `${registry}@${digest}`])
      expect(`${v.code} ${v.err}`).toMatch(/^0 /)
      const a = await cosign([
        'verify-attestation',
        '--key',
        pub,
        '--type',
        'slsaprovenance1',
        `${registry}@${digest}`
      ])
      expect(`${a.code} ${a.err}`).toMatch(/^0 /)
    }
  })

  it('refuses a key it cannot read, before anything is pushed: one line naming signing-key', async () => {
    const r = await runWith({
      app: 'example',
      registry: uniqueRepo('signing-bad', rig),
      'registry-username': rig.registryUsername,
      'registry-password': rig.registryPassword,
      sign: 'key',
      'signing-key': keyPair('right').key,
      'signing-key-password': 'wrong'
    })
    expect(r.error?.message).toMatch(/signing-key: cannot decrypt it: check signing-key-password/)
    expect(r.log.lines.some(l => /pushing|exporting to image/i.test(l))).toBe(false)
  })
})
