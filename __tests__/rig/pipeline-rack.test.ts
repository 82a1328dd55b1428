// Issue 6 through runPipeline: builds registered on the test rack (rack-server.ts), images pushed
// through its /v2/ proxy into the rig's registry; failures, retries, auth, Console mode, import
// of an export into a second app, and promote.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { UserError } from '../../src/core/errors.js'
import {
  appendLine,
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp,
  type PipelineRun
} from '../helpers/pipeline.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'
import { loadRig, registryCreds, skopeo, uniqueRepo } from '../helpers/rig.js'

const rig = loadRig()
const SERVICES = ['web', 'worker', 'api', 'cache']
const upstream = {
  host: rig.registry,
  username: rig.registryUsername,
  password: rig.registryPassword
}
const appName = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`
const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`

/** Every run of this file, for the password checks at the end. */
const runs: PipelineRun[] = []
const secretsSeen = new Set<string>()

async function runPipelineWith(
  inputs: Record<string, string>,
  app: ExampleApp
): Promise<PipelineRun> {
  const run = await runWithInputs(
    { ...rigInputs(rig), ...inputs },
    { env: pipelineEnv(rig), cwd: app.dir }
  )
  runs.push(run)
  return run
}

function ok(run: PipelineRun): NonNullable<PipelineRun['result']> {
  if (run.error) throw run.error
  return run.result!
}

/** skopeo inspect; `creds` and host pick the rig's registry or the rack's /v2/ proxy. */
async function inspectConfig(ref: string, creds: string): Promise<string> {
  const r = await skopeo([
    'inspect',
    '--config',
    '--raw',
    '--tls-verify=false',
    '--creds',
    creds,
    `docker://${ref}`
  ])
  if (r.exitCode !== 0) throw new Error(`skopeo inspect ${ref}: ${r.stderr.slice(-1000)}`)
  return r.stdout
}

/** The stored build log an `object://<app>/<key>` URL points to. */
function objectOf(server: RackServer, url: string): string {
  const m = /^object:\/\/(.+)$/.exec(url)
  expect(m).not.toBeNull()
  const data = server.objects.get(m![1]!)
  expect(data).toBeDefined()
  return data!.toString('utf8')
}

let server: RackServer
let example: ExampleApp
let dir: string

beforeAll(async () => {
  server = await startRackServer({ registry: upstream })
  secretsSeen.add(server.password)
  example = await exampleApp()
  dir = await mkdtemp(path.join(tmpdir(), 'pipeline-rack-'))
})

afterAll(async () => {
  await server?.close()
  for (const d of [dir, example?.dir]) if (d) await rm(d, { recursive: true, force: true })
})

describe('a build registered on the rack, exported, promoted, imported into a second app', () => {
  const app = appName('pipe')
  const second = appName('pipe-prod')
  let run: PipelineRun
  let exportFile: string

  beforeAll(async () => {
    server.addApp(app).updatingPolls = 1
    server.addApp(second)
    exportFile = path.join(dir, 'rack-build.tgz')
    run = await runPipelineWith(
      {
        app,
        'rack-url': server.rackUrl,
        export: exportFile,
        promote: 'true',
        'build-args': 'BUILD_APP\nBUILD_GIT_SHA\nBUILD_ID\nVERSION=1.2.3'
      },
      example
    )
    console.info(`pipeline-rack: build + export + promote took ${run.durationMs} ms`)
  })

  it('leaves one complete build on the rack with the raw manifest and its release', async () => {
    const r = ok(run)
    const builds = server.buildsOf(app)
    expect(builds).toHaveLength(1)
    const b = builds[0]!
    expect(r.buildId).toBe(b.id)
    expect(b).toMatchObject({
      status: 'complete',
      release: r.releaseId,
      gitSha: example.sha,
      description: `build ${example.sha.slice(0, 10)} Example app for pipeline tests`,
      manifest: await readFile(path.join(example.dir, 'convox.yml'), 'utf8')
    })
    expect(b.ended!.getTime()).toBeGreaterThanOrEqual(b.started!.getTime())
    const log = objectOf(server, b.logs)
    expect(log).toContain('==> web, worker')
    expect(log).not.toContain('1.2.3')

    const create = server.requests.filter(
      q => q.method === 'POST' && q.path === `/apps/${app}/builds`
    )
    expect(create).toHaveLength(1)
    expect(create[0]!.params).toMatchObject({
      external: 'true',
      manifest: 'convox.yml',
      'git-sha': example.sha,
      development: 'false'
    })
  })

  it('creates exactly one release, referencing the build', () => {
    const r = ok(run)
    const releases = server.releasesOf(app)
    expect(releases).toHaveLength(1)
    expect(releases[0]).toMatchObject({ id: r.releaseId, build: r.buildId })
    expect(r.releaseId).toMatch(/^R[A-Z]{10}$/)
  })

  it('pushes <repository>:<service>.<buildId> for every service, through the /v2/ proxy', async () => {
    const r = ok(run)
    expect(r.images).toEqual(
      Object.fromEntries(SERVICES.map(s => [s, `${server.host}/${app}:${s}.${r.buildId}`]))
    )
    for (const s of SERVICES) {
      const viaProxy = await inspectConfig(r.images[s]!, `convox:${server.password}`)
      const direct = await inspectConfig(
        `${server.upstreamRepository(app)}:${s}.${r.buildId}`,
        registryCreds(rig)
      )
      expect(sha256(viaProxy)).toBe(sha256(direct))
    }
    expect(server.requests.some(q => q.path.startsWith(`/v2/${app}/`) && q.method === 'PUT')).toBe(
      true
    )
  })

  it('promotes the release and waits until the app runs it', () => {
    const r = ok(run)
    const promotes = server.requests.filter(
      q => q.method === 'POST' && q.path === `/apps/${app}/releases/${r.releaseId}/promote`
    )
    expect(promotes.map(q => q.status)).toEqual([200])
    expect(server.apps.get(app)).toMatchObject({ release: r.releaseId, status: 'running' })
    // AppGet was polled after the promote until the rollout settled
    const last = server.requests.map(q => `${q.method} ${q.path}`).lastIndexOf(`GET /apps/${app}`)
    const promoteAt = server.requests.indexOf(promotes[0]!)
    expect(last).toBeGreaterThan(promoteAt)
  })

  it('exports the rack build: its ids, and no password in the tarball', async () => {
    const r = ok(run)
    expect(r.exportPath).toBe(exportFile)
    const whole = gunzipSync(await readFile(exportFile))
    expect(whole.includes(server.password)).toBe(false)
    expect(whole.includes(encodeURIComponent(server.password))).toBe(false)
    for (const s of SERVICES) expect(whole.includes(`${s}.${r.buildId}.tar`)).toBe(true)
    // the first entry is build.json: the rack's record of this build
    expect(whole.subarray(0, 100).toString('utf8').replace(/\0+$/, '')).toBe('build.json')
    const size = Number.parseInt(whole.subarray(124, 136).toString('utf8').replace(/\0/g, ''), 8)
    const record = JSON.parse(whole.subarray(512, 512 + size).toString('utf8')) as Record<
      string,
      string
    >
    expect(record).toMatchObject({
      id: r.buildId,
      app,
      release: r.releaseId,
      status: 'complete',
      'git-sha': example.sha,
      repository: `${server.host}/${app}`,
      logs: server.builds.get(r.buildId)!.logs
    })
  })

  it('imports that export into a second app: new build and release, images verified', async () => {
    const source = ok(run)
    const imp = await runPipelineWith(
      { app: second, 'rack-url': server.rackUrl, import: exportFile },
      example
    )
    console.info(`pipeline-rack: import took ${imp.durationMs} ms`)
    const r = ok(imp)
    expect(r.buildId).toMatch(/^B[A-Z]{10}$/)
    expect(r.buildId).not.toBe(source.buildId)
    expect(r.releaseId).toMatch(/^R[A-Z]{10}$/)
    expect(r.releaseId).not.toBe(source.releaseId)
    expect(server.importFailures).toEqual([])
    const builds = server.buildsOf(second)
    expect(builds).toHaveLength(1)
    expect(builds[0]).toMatchObject({
      id: r.buildId,
      status: 'complete',
      release: r.releaseId,
      manifest: server.builds.get(source.buildId)!.manifest
    })
    const releases = server.releasesOf(second)
    expect(releases).toHaveLength(1)
    expect(releases[0]).toMatchObject({ id: r.releaseId, build: r.buildId })
    expect(r.images).toEqual(
      Object.fromEntries(SERVICES.map(s => [s, `${server.host}/${second}:${s}.${r.buildId}`]))
    )
    for (const s of SERVICES) {
      const [imported, original] = await Promise.all([
        inspectConfig(`${server.upstreamRepository(second)}:${s}.${r.buildId}`, registryCreds(rig)),
        inspectConfig(
          `${server.upstreamRepository(app)}:${s}.${source.buildId}`,
          registryCreds(rig)
        )
      ])
      expect({ s, config: sha256(imported) }).toEqual({ s, config: sha256(original) })
    }
    // the pipeline checked each image through the rack's registry proxy instead of trusting it
    for (const s of SERVICES) {
      expect(
        server.requests.some(
          q => q.path === `/v2/${second}/manifests/${s}.${r.buildId}` && q.status === 200
        )
      ).toBe(true)
    }
    // the import was POSTed to the API as a raw tarball
    const post = server.requests.filter(q => q.path === `/apps/${second}/builds/import`)
    expect(post.map(q => [q.method, q.status, q.headers['content-type']])).toEqual([
      ['POST', 200, 'application/octet-stream']
    ])
  })
})

describe('failures on the rack', () => {
  describe('a failing Dockerfile', () => {
    const app = appName('pipe-fail')
    let run: PipelineRun
    beforeAll(async () => {
      server.addApp(app)
      const broken = await exampleApp(d => appendLine(path.join(d, 'Dockerfile'), 'RUN exit 3'))
      try {
        run = await runPipelineWith({ app, 'rack-url': server.rackUrl }, broken)
      } finally {
        await rm(broken.dir, { recursive: true, force: true })
      }
      console.info(`pipeline-rack: failing build took ${run.durationMs} ms`)
    })

    it('fails the run with a one-line error naming the service', () => {
      expect(run.error).toBeDefined()
      const message = run.error!.message
      expect(message.split('\n')).toHaveLength(1)
      expect(message).toMatch(/\bweb\b/)
      expect(message).toMatch(/exit code: 3/)
    })

    it('marks the build failed, with ERROR: <reason> ending its stored log, and no release', () => {
      const builds = server.buildsOf(app)
      expect(builds).toHaveLength(1)
      const b = builds[0]!
      expect(b.status).toBe('failed')
      expect(b.release).toBe('')
      expect(b.ended).toBeDefined()
      expect(server.releasesOf(app)).toEqual([])
      const update = server.requests.filter(
        q => q.method === 'PUT' && q.path === `/apps/${app}/builds/${b.id}` && q.params.status
      )
      expect(update.map(q => q.params.status)).toEqual(['running', 'failed'])
      // the rack's BuildUpdate has no reason field: the reason is the stored log's last line
      const log = objectOf(server, b.logs)
      const lastLine = log.trimEnd().split('\n').pop()!
      expect(lastLine).toMatch(/^ERROR: \S/)
      expect(lastLine).toMatch(/\bweb\b/)
      expect(lastLine).toMatch(/exit code: 3/)
    })

    // The rack's own failed builds (pkg/build/build.go) keep the build output before
    // `ERROR: <reason>`.
    it("keeps the build output before the ERROR line in the failed build's log (like the rack)", () => {
      const b = server.buildsOf(app)[0]!
      const log = objectOf(server, b.logs)
      expect(log).toContain('RUN exit 3')
    })
  })

  it('creates nothing on the rack for a bad manifest', async () => {
    const app = appName('pipe-bad')
    server.addApp(app)
    const bad = await exampleApp(d =>
      writeFile(path.join(d, 'convox.yml'), 'services:\n  web:\n    build: [not, a, path\n')
    )
    try {
      const before = server.requests.length
      const run = await runPipelineWith({ app, 'rack-url': server.rackUrl }, bad)
      expect(run.error).toBeInstanceOf(UserError)
      expect(run.error!.message).toMatch(/convox\.yml:\d+/)
      // Only reads: the app's env, which convox.yml is interpolated with, as on the rack.
      expect(server.requests.slice(before).filter(r => r.method !== 'GET')).toEqual([])
      expect(server.buildsOf(app)).toEqual([])
    } finally {
      await rm(bad.dir, { recursive: true, force: true })
    }
  })

  it('answers a wrong password (401) with a one-line user error, no stack, no password', async () => {
    const app = appName('pipe-401')
    server.addApp(app)
    const wrong = `wrong-${randomBytes(8).toString('hex')}`
    secretsSeen.add(wrong)
    const before = server.requests.length
    const run = await runPipelineWith(
      { app, 'rack-url': `http://convox:${wrong}@${server.host}` },
      example
    )
    expect(run.error).toBeInstanceOf(UserError)
    const message = run.error!.message
    expect(message.split('\n')).toHaveLength(1)
    expect(message).toContain('401')
    expect(message).not.toMatch(/\n\s+at /)
    expect(message).not.toContain(wrong)
    // 4xx is not retried
    const made = server.requests.slice(before)
    expect(made.map(q => q.status)).toEqual([401])
    expect(server.buildsOf(app)).toEqual([])
  })

  it('retries BuildCreate answered 503 twice, then succeeds', async () => {
    const app = appName('pipe-503')
    server.addApp(app)
    server.fail({ method: 'POST', path: `/apps/${app}/builds`, times: 2, status: 503 })
    const run = await runPipelineWith({ app, 'rack-url': server.rackUrl }, example)
    console.info(`pipeline-rack: build with two 503s took ${run.durationMs} ms`)
    const r = ok(run)
    const creates = server.requests.filter(
      q => q.method === 'POST' && q.path === `/apps/${app}/builds`
    )
    expect(creates.map(q => q.status)).toEqual([503, 503, 200])
    const builds = server.buildsOf(app)
    expect(builds).toHaveLength(1)
    expect(builds[0]).toMatchObject({ id: r.buildId, status: 'complete', release: r.releaseId })
    expect(server.releasesOf(app)).toHaveLength(1)
  })
})

describe('Console mode', () => {
  let consoleRack: RackServer
  beforeAll(async () => {
    consoleRack = await startRackServer({ registry: upstream, requireRack: 'acme/production' })
    secretsSeen.add(consoleRack.password)
  })
  afterAll(async () => {
    await consoleRack?.close()
  })

  it('sends the Rack header on every request', async () => {
    const app = appName('pipe-console')
    consoleRack.addApp(app)
    const repo = uniqueRepo('pipeline-console', rig)
    const run = await runPipelineWith(
      {
        app,
        'convox-host': consoleRack.url,
        'convox-password': consoleRack.password,
        rack: 'acme/production',
        // images go to a registry of the user's; the rack records the build
        registry: repo,
        'registry-username': rig.registryUsername,
        'registry-password': rig.registryPassword
      },
      example
    )
    const r = ok(run)
    expect(consoleRack.requests.length).toBeGreaterThan(0)
    expect(consoleRack.requests.filter(q => q.rack !== 'acme/production')).toEqual([])
    expect(consoleRack.requests.filter(q => q.status >= 400)).toEqual([])
    expect(consoleRack.buildsOf(app)).toEqual([
      expect.objectContaining({ id: r.buildId, status: 'complete', release: r.releaseId })
    ])
    expect(r.images.web).toBe(`${repo}:web.${r.buildId}`)
    await inspectConfig(r.images.web!, registryCreds(rig))
  })
})

describe('the rack password', () => {
  it('never appears in logs, errors or results, and is masked', () => {
    expect(runs.length).toBeGreaterThanOrEqual(6)
    for (const run of runs) {
      const texts = [
        run.log.text(),
        run.error ? `${run.error.message}\n${run.error.stack ?? ''}` : '',
        JSON.stringify(run.result ?? null)
      ]
      for (const secret of secretsSeen) {
        for (const t of texts) {
          expect(t.includes(secret)).toBe(false)
          expect(t.includes(encodeURIComponent(secret))).toBe(false)
        }
      }
    }
    // each run with a rack masked its password before anything was logged
    const rackRuns = runs.filter(r => r.settings?.rackUrl || r.settings?.convoxPassword)
    for (const run of rackRuns) {
      const pw = run.settings!.rackUrl
        ? decodeURIComponent(new URL(run.settings!.rackUrl).password)
        : run.settings!.convoxPassword
      expect(run.log.secrets.redact(pw)).toBe('***')
    }
  })
})

describe("the app's parameters and releases, read before registering", () => {
  it('builds for the BuildArch of the app (arm64) and says why', async () => {
    const app = appName('pipe-arch')
    server.addApp(app).parameters = { BuildArch: 'arm64' }
    // COPY only: no arm64 emulation needed; the base image is an index of amd64 and arm64.
    const arm = await exampleApp(async d => {
      await writeFile(path.join(d, 'convox.yml'), 'services:\n  web:\n    build: .\n')
      await writeFile(
        path.join(d, 'Dockerfile'),
        'FROM busybox:multi\nCOPY index.html /index.html\n'
      )
    })
    try {
      const run = await runPipelineWith({ app, 'rack-url': server.rackUrl }, arm)
      const result = ok(run)
      expect(result.platforms).toBe("linux/arm64 (the app's BuildArch)")
      expect(run.log.text()).toContain("platforms linux/arm64 (the app's BuildArch)")
      const config = JSON.parse(
        await inspectConfig(
          `${server.upstreamRepository(app)}:web.${result.buildId}`,
          registryCreds(rig)
        )
      ) as { architecture: string }
      expect(config.architecture).toBe('arm64')
    } finally {
      await rm(arm.dir, { recursive: true, force: true })
    }
  })

  it('warns when the new release would drop env of the running one; strict refuses before registering', async () => {
    const app = appName('pipe-envdrop')
    const state = server.addApp(app)
    const release = (id: string, env: string, created: Date) =>
      server.releases.set(id, { id, app, build: '', env, manifest: '', description: '', created })
    release('RRUNNINGAAA', 'GREETING=hi\nSECRET_KEY=x', new Date(Date.now() - 60_000))
    release('RNEWESTBBBB', 'GREETING=hi', new Date())
    state.release = 'RRUNNINGAAA'
    const warned = await runPipelineWith({ app, 'rack-url': server.rackUrl }, example)
    ok(warned)
    expect(warned.log.warnings.map(w => w.message)).toContainEqual(
      expect.stringMatching(
        /would drop env that the running release RRUNNINGAAA has: SECRET_KEY \(.*RNEWESTBBBB/
      )
    )
    const builds = server.buildsOf(app).length
    const strict = await runPipelineWith(
      { app, 'rack-url': server.rackUrl, 'env-drop-guard': 'strict' },
      example
    )
    expect(strict.error).toBeInstanceOf(UserError)
    expect(strict.error!.message).toMatch(/^input "env-drop-guard": .*SECRET_KEY/)
    expect(server.buildsOf(app)).toHaveLength(builds)
  })
})
