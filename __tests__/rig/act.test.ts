// End to end through a GitHub Actions runner emulator: act runs __tests__/act/workflows/build.yml
// on the host (-P ubuntu-latest=-self-hosted), whose `uses: ./` steps run dist/index.js (and
// dist/post.js) against the rig, then we check what act reports and what the workflow wrote.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGunzip, gunzipSync } from 'node:zlib'
import * as tar from 'tar-stream'
import { parse as parseYaml } from 'yaml'
import {
  actArgs,
  rigWorkflowEnv,
  actEnv,
  actPath,
  envFileText,
  freePort,
  parseActLog,
  runAct,
  startArtifactProxy,
  type ActRun,
  type ActStep,
  type ArtifactProxy
} from '../helpers/act.js'
import { REPO_ROOT, loadRig, registryCreds, skopeo, uniqueRepo, type Rig } from '../helpers/rig.js'

const WORKFLOW = '__tests__/act/workflows/build.yml'
const ARTIFACT = 'act-example-export'
const ACT_TIMEOUT_MS = 540_000
const BUILD_ID = /^B[A-Z]{10}$/
const RELEASE_ID = /^R[A-Z]{10}$/
const DIGEST = /^sha256:[0-9a-f]{64}$/

const manifest = parseYaml(await readFile(join(REPO_ROOT, 'examples', 'convox.yml'), 'utf8')) as {
  services: Record<string, unknown>
}
const SERVICES = Object.keys(manifest.services)

let rig: Rig
let tmp: string
let out: string
let artifacts: string
let repo: string
let versionArg: string
let proxy: ArtifactProxy | undefined
let run: ActRun
let steps: ActStep[]

/** Fails with the end of act's log, so a CI failure says why. */
function explain(what: string): string {
  const tail = run.output.split('\n').slice(-120).join('\n')
  return `${what}\nact exited ${run.code ?? run.signal} after ${run.ms} ms; its log ends:\n${tail}`
}

function step(name: string, nth = 0): ActStep {
  const found = steps.filter(s => s.name === name)[nth]
  if (!found) throw new Error(explain(`act reported no step "${name}" #${nth + 1}`))
  return found
}

async function readJson(file: string): Promise<Record<string, string>> {
  return JSON.parse(await readFile(join(out, file), 'utf8')) as Record<string, string>
}

/** Entry names of a .tar.gz, and the text of build.json. */
async function listExport(file: string): Promise<{ names: string[]; buildJson: string }> {
  const names: string[] = []
  let buildJson = ''
  const extract = tar.extract()
  extract.on('entry', (header, stream, next) => {
    names.push(header.name)
    const chunks: Buffer[] = []
    stream.on('data', (c: unknown) => {
      if (header.name === 'build.json') chunks.push(c as Buffer)
    })
    stream.on('end', () => {
      if (header.name === 'build.json') buildJson = Buffer.concat(chunks).toString('utf8')
      next()
    })
    stream.resume()
  })
  await pipeline(createReadStream(file), createGunzip(), extract)
  return { names, buildJson }
}

beforeAll(async () => {
  rig = loadRig()
  const act = actPath(rig)
  tmp = await mkdtemp(join(tmpdir(), 'convox-build-act-'))
  out = join(tmp, 'out')
  artifacts = join(tmp, 'artifacts')
  const home = join(tmp, 'home')
  await Promise.all([out, artifacts, home, join(tmp, 'actions')].map(d => mkdir(d)))
  repo = uniqueRepo('act-example', rig)
  versionArg = `act-${Date.now().toString(36)}`

  // Plain settings for the workflow's `env` context; the passwords only as act secrets.
  await writeFile(
    join(tmp, 'env'),
    rigWorkflowEnv(rig, {
      ACT_REPO: repo,
      ACT_OUT: out,
      VERSION_ARG: versionArg
    })
  )
  await writeFile(
    join(tmp, 'secrets'),
    envFileText({ REGISTRY_PASSWORD: rig.registryPassword, HUB_PASSWORD: rig.hubPassword }),
    { mode: 0o600 }
  )

  const artifactPort = await freePort()
  proxy = await startArtifactProxy(artifactPort)
  // Text logs, not --json: act's JSON log entries carry each `::add-mask::` value in clear
  // (fields `arg` and `raw`; only `msg` is masked).
  const args = actArgs(WORKFLOW, tmp, [
    '--no-cache-server',
    '--artifact-server-path',
    artifacts,
    '--artifact-server-addr',
    '127.0.0.1',
    '--artifact-server-port',
    String(artifactPort)
  ])
  const env = actEnv(rig, home, { ACTIONS_RUNTIME_URL: proxy.url })
  run = await runAct(act, args, env, ACT_TIMEOUT_MS)
  await writeFile(join(tmp, 'act.log'), run.output)
  steps = parseActLog(run.output)
}, 600_000)

afterAll(async () => {
  await proxy?.close()
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

describe('the action run by act on the host', () => {
  it('runs the job to success: both `uses: ./` steps, their post steps, and the echo steps', () => {
    if (run.code !== 0) throw new Error(explain('the act run failed'))
    expect(run.output).toContain('Job succeeded')
    for (const name of ['Main ./', 'Main Record the outputs', 'Main Record the plan']) {
      expect(step(name).result).toBe('success')
    }
    expect(step('Main ./', 1).result).toBe('success')
    expect(steps.filter(s => s.name === 'Post ./').map(s => s.result)).toEqual([
      'success',
      'success'
    ])
  })

  it('runs the node24 action with Node 24', async () => {
    expect((await readFile(join(out, 'node-version'), 'utf8')).trim()).toMatch(/^v24\./)
  })

  it('reports the build and release ids, images and digests as step outputs', async () => {
    const reported = step('Main ./').outputs
    expect(reported['build-id']).toMatch(BUILD_ID)
    expect(reported['release-id']).toMatch(RELEASE_ID)
    const buildId = reported['build-id'] as string

    const images = JSON.parse(reported.images ?? '') as Record<string, string>
    expect(images).toEqual(Object.fromEntries(SERVICES.map(s => [s, `${repo}:${s}.${buildId}`])))
    const digests = JSON.parse(reported.digests ?? '') as Record<string, string>
    expect(Object.keys(digests).sort()).toEqual([...SERVICES].sort())
    for (const d of Object.values(digests)) expect(d).toMatch(DIGEST)
    // web and worker share one build (examples/convox.yml): one image.
    expect(digests.web).toBe(digests.worker)

    // A later step reads the same values through `steps.build.outputs`.
    const seen = await readJson('build-outputs.json')
    for (const name of ['build-id', 'release-id', 'images', 'digests', 'export-path']) {
      expect(seen[name]).toBe(reported[name])
    }
    // The job summary written by the action (act prints it).
    expect(step('Main ./').lines.join('\n')).toContain(`\`${buildId}\``)
  })

  it('pushed every image under the digest it reports', async () => {
    const digests = JSON.parse(step('Main ./').outputs.digests ?? '') as Record<string, string>
    const images = JSON.parse(step('Main ./').outputs.images ?? '') as Record<string, string>
    for (const service of SERVICES) {
      const r = await skopeo([
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--creds',
        registryCreds(rig),
        `docker://${images[service]}`
      ])
      expect(r.exitCode).toBe(0)
      const digest = `sha256:${createHash('sha256').update(r.stdout).digest('hex')}`
      expect(digest).toBe(digests[service])
    }
  })

  it('passes the custom build arg from the workflow to the build', () => {
    expect(step('Main ./').lines.join('\n')).toContain(`VERSION=${versionArg}`)
  })

  it('writes the export: build.json and one OCI archive per service', async () => {
    const reported = step('Main ./').outputs
    const exportPath = join(out, 'act-example.tgz')
    expect(reported['export-path']).toBe(exportPath)
    expect(existsSync(exportPath)).toBe(true)
    const buildId = reported['build-id'] as string
    const { names, buildJson } = await listExport(exportPath)
    expect([...names].sort()).toEqual(
      ['build.json', ...SERVICES.map(s => `${s}.${buildId}.tar`)].sort()
    )
    const record = JSON.parse(buildJson) as Record<string, unknown>
    expect(record.id).toBe(buildId)
    expect(record.release).toBe(reported['release-id'])
    expect(record.app).toBe('act-example')
  })

  it("uploads the export to act's artifact server and reports its id and url", async () => {
    const reported = step('Main ./').outputs
    expect(reported['artifact-id']).toMatch(/^[1-9][0-9]*$/)
    expect(reported['artifact-url']).toMatch(
      new RegExp(`/actions/runs/\\d+/artifacts/${reported['artifact-id']}$`)
    )
    expect(proxy?.requests).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/CreateArtifact$/),
        expect.stringMatching(/UploadArtifact$/),
        expect.stringMatching(/FinalizeArtifact$/)
      ])
    )
    // act stores `<run id>/<name>/<name>.zip`; the tarball is stored in it uncompressed.
    const zip = await readFile(join(artifacts, '1', ARTIFACT, `${ARTIFACT}.zip`))
    const tarball = await readFile(join(out, 'act-example.tgz'))
    expect(zip.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04')
    expect(zip.includes(Buffer.from('act-example.tgz'))).toBe(true)
    expect(zip.includes(tarball)).toBe(true)
  })

  it('plans in a dry-run step: a build id and the plan, nothing built or pushed', () => {
    const reported = step('Main ./', 1).outputs
    expect(reported['build-id']).toMatch(BUILD_ID)
    expect(reported['build-id']).not.toBe(step('Main ./').outputs['build-id'])
    const plan = JSON.parse(reported.plan ?? '') as {
      buildId: string
      app: string
      services: { name: string; image: string }[]
    }
    expect(plan.buildId).toBe(reported['build-id'])
    expect(plan.app).toBe('act-example')
    expect(plan.services.map(s => [s.name, s.image])).toEqual(
      SERVICES.map(s => [s, `${repo}:${s}.${plan.buildId}`])
    )
    expect(reported['release-id']).toBe('')
    expect(reported['export-path']).toBe('')
    expect(JSON.parse(reported.digests ?? '')).toEqual({})
  })

  it("leaves no secret in act's log, the outputs, the summary, the export or the artifact", async () => {
    const secrets = [rig.registryPassword, rig.hubPassword]
    const texts: [string, string][] = [
      ['act log', run.output],
      ['build outputs', await readFile(join(out, 'build-outputs.json'), 'utf8')],
      ['plan outputs', await readFile(join(out, 'plan-outputs.json'), 'utf8')],
      ['step summary', await readFile(join(out, 'step-summary.md'), 'utf8')],
      ['export', gunzipSync(await readFile(join(out, 'act-example.tgz'))).toString('latin1')],
      [
        'artifact',
        (await readFile(join(artifacts, '1', ARTIFACT, `${ARTIFACT}.zip`))).toString('latin1')
      ]
    ]
    for (const [where, text] of texts) {
      for (const secret of secrets) {
        expect({ where, leaked: text.includes(secret) }).toEqual({ where, leaked: false })
      }
    }
  })
})
