// The rack client against Convox's own rack API (realrack: pkg/api over provider/local, see
// helpers/realrack.ts), alone and behind a fault-injecting proxy: registration, import, promote,
// the rack's 500/403 answers, TLS, and what a lost answer leaves on the rack. Counts come from
// realrack's state file (the builds and releases as the real BuildGet/ReleaseGet read them).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import tls from 'node:tls'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import tar from 'tar-stream'
import { UserError } from '../../src/core/errors.js'
import { Cancelled } from '../../src/core/interrupt.js'
import {
  CLEANUP_CALL,
  RackAuthError,
  RackClient,
  RackError,
  RackTlsError,
  appBuildArch,
  appEnvironment,
  completeExternalBuild,
  createExternalBuild,
  envDropCheck,
  externalBuildTarget,
  promoteRelease,
  repositoryTarget,
  runImport,
  PromoteError,
  type ExternalBuildOptions
} from '../../src/core/rack/index.js'
import { buildDir } from '../helpers/dockerfile-build.js'
import { startRackFaultProxy, type FaultEntry } from '../helpers/fault-proxy.js'
import {
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp
} from '../helpers/pipeline.js'
import { captureLogger, type CapturedLog } from '../helpers/logger.js'
import { verifyThroughProxy } from '../helpers/rack-images.js'
import { startRealRack, type RealRack, type RealRackState } from '../helpers/realrack.js'
import { loadRig, skopeo } from '../helpers/rig.js'
import { runExternalBuild } from '../helpers/external-build.js'

const rig = loadRig()
const MANIFEST = 'services:\n  web:\n    build: .\n    port: 3000\n'
let dir: string
let ociArchive: string

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'realrack-client-'))
  await writeFile(
    path.join(dir, 'Dockerfile'),
    'FROM scratch\nCOPY hello.txt /\nENTRYPOINT ["/hello"]\n'
  )
  await writeFile(path.join(dir, 'hello.txt'), `hello ${Date.now()}\n`)
  ociArchive = path.join(dir, 'image.tar')
  const r = await buildDir(dir, `type=oci,dest=${ociArchive}`)
  if (r.exitCode !== 0) throw new Error(`buildctl failed: ${r.stderr.slice(-2000)}`)
})
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

function newClient(url: string, cap: CapturedLog, extra: object = {}): RackClient {
  return new RackClient({
    rackUrl: url,
    secrets: cap.secrets,
    logger: cap.logger,
    retryDelayMs: 20,
    ...extra
  })
}

function buildOptions(app: string, description: string): ExternalBuildOptions {
  return { app, manifestText: MANIFEST, description, gitSha: 'abc123', development: false }
}

/** Pushes the test image to `<repository>:web.<id>` (through the rack's /v2/ proxy). */
async function pushWeb(ctx: {
  repository: string
  buildId: string
  credentials: { username: string; password: string }
}): Promise<void> {
  const r = await skopeo([
    'copy',
    '--dest-tls-verify=false',
    '--dest-creds',
    `${ctx.credentials.username}:${ctx.credentials.password}`,
    `oci-archive:${ociArchive}`,
    `docker://${ctx.repository}:web.${ctx.buildId}`
  ])
  if (r.exitCode !== 0) throw new Error(`skopeo copy: ${r.stderr.slice(-1000)}`)
}

function callsTo(state: RealRackState, method: string, p: string): number[] {
  return state.calls.filter(c => c.method === method && c.path === p).map(c => c.status)
}

describe('realrack: registration, promote, import, and its answers', () => {
  let rr: RealRack
  let cap: CapturedLog
  let rack: RackClient
  let first: { buildId: string; releaseId: string; repository: string }

  beforeAll(async () => {
    // -external-repo proxy: BuildCreate answers the push target a rack makes (its own /v2/ proxy)
    rr = await startRealRack(rig, { flags: ['-external-repo', 'proxy', '-atom-delay', '1s'] })
    cap = captureLogger()
    rack = newClient(rr.rackUrl, cap)
  })
  afterAll(() => rr?.stop())

  it('registers an external build: one build, complete, its one release, the image in the rack', async () => {
    let target: { repository: string; credentials: object } | undefined
    const result = await runExternalBuild(rack, buildOptions(rr.app, 'build one'), async ctx => {
      target = { repository: ctx.repository, credentials: ctx.credentials }
      await pushWeb(ctx)
      ctx.log('pushed web')
      return { images: { web: `${ctx.repository}:web.${ctx.buildId}` }, entrypoint: ['/hello'] }
    })
    first = result
    const state = await rr.state()
    const builds = rr.buildsOf(state)
    expect(builds).toHaveLength(1)
    expect(builds[0]).toMatchObject({
      id: result.buildId,
      status: 'complete',
      release: result.releaseId,
      manifest: MANIFEST,
      description: 'build one',
      'git-sha': 'abc123',
      entrypoint: '/hello',
      logs: `object://${rr.app}/build/${result.buildId}/logs`
    })
    const releases = rr.releasesOf(state).filter(r => r.build === result.buildId)
    expect(releases.map(r => r.id)).toEqual([result.releaseId])
    expect(state.objects[`${rr.app}/build/${result.buildId}/logs`]).toBeGreaterThan(0)
    // the push went through the rack's real /v2/ proxy into the rig's registry
    const inspect = await skopeo([
      'inspect',
      '--tls-verify=false',
      '--creds',
      `${rig.registryUsername}:${rig.registryPassword}`,
      `docker://${rig.registry}/${rr.app}:web.${result.buildId}`
    ])
    expect(inspect.exitCode).toBe(0)
    // a build leg elsewhere derives the same push target as the rack answered BuildCreate with
    expect(await externalBuildTarget(rack, rr.app)).toEqual(target)
    expect(target!.repository).toBe(`${rr.host}/${rr.app}`)
    expect(cap.rendered()).not.toContain(rr.password)
  })

  it("reads a 500 for a build that does not exist as final: one call, the rack's own message", async () => {
    const e = await rack.buildGet(rr.app, 'BNOSUCHBLDX').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RackError)
    expect(e).toMatchObject({ status: 500, outcome: 'refused' })
    expect((e as Error).message).toBe(
      `rack ${rr.host}: GET /apps/${rr.app}/builds/BNOSUCHBLDX: 500 builds.convox.com "bnosuchbldx" not found`
    )
    expect(callsTo(await rr.state(), 'GET', `/apps/${rr.app}/builds/BNOSUCHBLDX`)).toEqual([500])
  })

  it("promotes and waits; a 403 while the app updates carries the rack's message and is waited out", async () => {
    const promotePath = `/apps/${rr.app}/releases/${first.releaseId}/promote`
    // the app's first rollout (AppCreate's) may still run: wait, then promote twice at once
    while ((await rack.appGet(rr.app)).status !== 'running') await sleep(100)
    await rack.releasePromote(rr.app, first.releaseId)
    const e = await rack.releasePromote(rr.app, first.releaseId).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RackError)
    expect(e).not.toBeInstanceOf(RackAuthError)
    expect((e as RackError).appUpdating).toBe(true)
    expect((e as Error).message).toBe(
      `rack ${rr.host}: POST ${promotePath}: 403 app is currently updating`
    )
    expect(callsTo(await rr.state(), 'POST', promotePath)).toEqual([200, 403])

    // a newer release of the same build, promoted while the first rollout still runs
    const second = await rack.releaseCreate(rr.app, { build: first.buildId })
    const app = await promoteRelease(rack, {
      app: rr.app,
      releaseId: second.id,
      logger: cap.logger,
      pollMs: 200
    })
    expect(app).toMatchObject({ release: second.id, status: 'running' })
    const state = await rr.state()
    expect(state.app).toMatchObject({ release: second.id, status: 'running' })
    expect(callsTo(state, 'POST', `/apps/${rr.app}/releases/${second.id}/promote`)).toEqual([200])
  })

  it("imports an export of the rack's own (BuildExport) and checks what the rack made", async () => {
    const tarball = path.join(dir, 'export.tgz')
    await download(`${rr.url}/apps/${rr.app}/builds/${first.buildId}.tgz`, rr.password, tarball)
    const before = rr.buildsOf(await rr.state()).length
    const imported = await runImport(rack, {
      app: rr.app,
      tarball,
      logger: cap.logger,
      verifyImage: verifyThroughProxy
    })
    expect(imported.source).toEqual({ buildId: first.buildId, releaseId: first.releaseId })
    expect(imported.images).toEqual({ web: `${rr.host}/${rr.app}:web.${imported.buildId}` })
    const state = await rr.state()
    expect(rr.buildsOf(state)).toHaveLength(before + 1)
    // BuildImport copies description, logs and manifest, drops git-sha and entrypoint
    expect(state.builds[imported.buildId]).toMatchObject({
      status: 'complete',
      release: imported.releaseId,
      manifest: MANIFEST,
      description: 'build one',
      logs: `object://${rr.app}/build/${first.buildId}/logs`,
      'git-sha': '',
      entrypoint: ''
    })
    expect(rr.releasesOf(state).filter(r => r.build === imported.buildId)).toHaveLength(1)

    // the same tarball cut short: one line naming it, nothing sent to the rack
    const cut = path.join(dir, 'export-cut.tgz')
    const whole = await readFile(tarball)
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)))
    const tmpBefore = await readdir(tmpdir())
    const e = await runImport(rack, { app: rr.app, tarball: cut, logger: cap.logger }).catch(
      (x: unknown) => x
    )
    expect(e).toBeInstanceOf(UserError)
    expect((e as Error).message).toMatch(
      new RegExp(
        `^input "import": ${cut.replace(/[.]/g, '\\.')} is not a complete convox builds export tarball \\(.+\\)$`
      )
    )
    const after = await rr.state()
    expect(rr.buildsOf(after)).toHaveLength(before + 1)
    expect(callsTo(after, 'POST', `/apps/${rr.app}/builds/import`)).toEqual([200])
    expect(
      (await readdir(tmpdir())).filter(f => !tmpBefore.includes(f) && /^convox-build/.test(f))
    ).toEqual([])
  })

  it("answers a wrong password sent with a large upload with the rack's 401, in one line", async () => {
    const big = path.join(dir, 'big.tgz')
    const pack = tar.pack()
    const json = Buffer.from(JSON.stringify({ id: 'BBIGBIGBIGB', manifest: MANIFEST }))
    pack.entry({ name: 'build.json', size: json.length }, json)
    const archive = randomBytes(4 << 20)
    pack.entry({ name: 'web.BBIGBIGBIGB.tar', size: archive.length }, archive)
    pack.finalize()
    await pipeline(pack, createGzip({ level: 1 }), createWriteStream(big))
    const before = rr.buildsOf(await rr.state()).length
    const wrong = newClient(`http://convox:wrong@${rr.host}`, captureLogger())
    const e = await wrong.buildImport(rr.app, big, undefined).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RackAuthError)
    expect((e as Error).message).toBe(`rack ${rr.host}: 401 invalid authentication`)
    expect(rr.buildsOf(await rr.state())).toHaveLength(before)
  })

  it("gives the app's environment as a new release inherits it, and the env drop check", async () => {
    const withEnv = await rack.releaseCreate(rr.app, {
      env: 'A=1\nB=two=2\r\nC=\n  D  = spaced \nnot a line\n'
    })
    expect(await appEnvironment(rack, rr.app)).toEqual({ A: '1', B: 'two=2', C: '', D: ' spaced ' })
    await promoteRelease(rack, {
      app: rr.app,
      releaseId: withEnv.id,
      logger: cap.logger,
      pollMs: 200
    })
    expect(await envDropCheck(rack, rr.app)).toEqual({
      missing: [],
      running: withEnv.id,
      newest: withEnv.id
    })
    // `convox env unset B C` without --promote: the newest release lacks what the running one has
    const newest = await rack.releaseCreate(rr.app, { env: 'A=1\nD= spaced ' })
    expect(await envDropCheck(rack, rr.app)).toEqual({
      missing: ['B', 'C'],
      running: withEnv.id,
      newest: newest.id
    })
    // provider/k8s AppParameters has no BuildArch (3.24.9): the rack drops it
    expect(await appBuildArch(rack, rr.app)).toEqual([])
  })

  it('makes exactly one build and one release when the answers are lost after the rack acted', async () => {
    const proxy = await startRackFaultProxy(rr.host)
    try {
      const through = newClient(proxy.rackUrl(rr.password), cap)
      const count = async (): Promise<{ builds: number; releases: number }> => {
        const s = await rr.state()
        return { builds: rr.buildsOf(s).length, releases: rr.releasesOf(s).length }
      }
      const cases: { fault: FaultEntry; name: string }[] = [
        {
          name: 'BuildCreate 504',
          fault: {
            method: 'POST',
            path: `/apps/${rr.app}/builds`,
            action: { kind: 'after', status: 504 }
          }
        },
        {
          name: 'BuildCreate reset',
          fault: {
            method: 'POST',
            path: `/apps/${rr.app}/builds`,
            action: { kind: 'reset', bytes: 1 }
          }
        },
        {
          name: 'ReleaseCreate 502',
          fault: {
            method: 'POST',
            path: `/apps/${rr.app}/releases`,
            action: { kind: 'after', status: 502 }
          }
        },
        {
          name: 'ReleaseCreate reset',
          fault: {
            method: 'POST',
            path: `/apps/${rr.app}/releases`,
            action: { kind: 'reset', bytes: 1 }
          }
        },
        {
          name: 'BuildUpdate 502',
          fault: {
            method: 'PUT',
            path: new RegExp(`^/apps/${rr.app}/builds/B`),
            action: { kind: 'after', status: 502 },
            times: 2
          }
        },
        {
          name: 'ObjectStore 502',
          fault: {
            method: 'POST',
            path: new RegExp('/objects/'),
            action: { kind: 'after', status: 502 }
          }
        }
      ]
      for (const c of cases) {
        const before = await count()
        proxy.fault(c.fault)
        const result = await runExternalBuild(
          through,
          buildOptions(rr.app, c.name),
          async () => ({})
        )
        const state = await rr.state()
        expect({ case: c.name, ...(await count()) }).toEqual({
          case: c.name,
          builds: before.builds + 1,
          releases: before.releases + 1
        })
        expect(state.builds[result.buildId]).toMatchObject({
          status: 'complete',
          release: result.releaseId
        })
        expect(rr.releasesOf(state).filter(r => r.build === result.buildId)).toHaveLength(1)
      }
      expect(proxy.requests.filter(r => r.action !== 'pass').length).toBe(7)

      // a promote whose answer is lost: AppGet shows it took, it is not sent again
      const release = await through.releaseCreate(rr.app, { build: first.buildId })
      proxy.fault({
        method: 'POST',
        path: `/apps/${rr.app}/releases/${release.id}/promote`,
        action: { kind: 'after', status: 502 }
      })
      await promoteRelease(through, {
        app: rr.app,
        releaseId: release.id,
        logger: cap.logger,
        pollMs: 200
      })
      const state = await rr.state()
      expect(callsTo(state, 'POST', `/apps/${rr.app}/releases/${release.id}/promote`)).toEqual([
        200
      ])
      expect(state.app.release).toBe(release.id)
    } finally {
      await proxy.close()
    }
  })

  it('bounds a rack that never answers: one line within the bound, nothing created twice', async () => {
    const proxy = await startRackFaultProxy(rr.host)
    try {
      const through = newClient(proxy.rackUrl(rr.password), cap, { timeoutMs: 1000 })
      const before = rr.buildsOf(await rr.state()).length
      proxy.fault({ method: 'POST', path: `/apps/${rr.app}/builds`, action: { kind: 'hang' } })
      const started = Date.now()
      const e = await createExternalBuild(through, buildOptions(rr.app, 'hang')).catch(
        (x: unknown) => x
      )
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(e).toBeInstanceOf(RackError)
      expect((e as Error).message).toBe(
        `rack ${proxy.host}: POST /apps/${rr.app}/builds: no answer within 1 s; nothing of it found on the rack, not sent again`
      )
      expect((e as Error).message.split('\n')).toHaveLength(1)
      expect(rr.buildsOf(await rr.state())).toHaveLength(before)
      expect(
        proxy.requests.filter(r => r.method === 'POST' && r.url === `/apps/${rr.app}/builds`)
      ).toHaveLength(1)

      // the rack made the release, then went silent: found by its build id, used, not made twice
      proxy.fault({
        method: 'POST',
        path: `/apps/${rr.app}/releases`,
        action: { kind: 'hang-after' }
      })
      const result = await runExternalBuild(
        through,
        buildOptions(rr.app, 'hang after'),
        async () => ({})
      )
      const state = await rr.state()
      expect(
        rr
          .releasesOf(state)
          .filter(r => r.build === result.buildId)
          .map(r => r.id)
      ).toEqual([result.releaseId])
      expect(state.builds[result.buildId]).toMatchObject({ status: 'complete' })
    } finally {
      await proxy.close()
    }
  })

  it('marks a build failed with `cancelled` in its log when the run is cancelled, and makes nothing more', async () => {
    const controller = new AbortController()
    const cancelling = newClient(rr.rackUrl, cap, { signal: controller.signal })
    let buildId = ''
    const e = await runExternalBuild(cancelling, buildOptions(rr.app, 'cancelled'), async ctx => {
      buildId = ctx.buildId
      ctx.log('step 1/2')
      controller.abort(new Cancelled('SIGTERM'))
      return {}
    }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(Cancelled)
    const state = await rr.state()
    expect(state.builds[buildId]).toMatchObject({ status: 'failed', release: '' })
    expect(rr.releasesOf(state).filter(r => r.build === buildId)).toEqual([])
    const log = (await rack.objectFetch(rr.app, `build/${buildId}/logs`, CLEANUP_CALL)).toString()
    expect(log).toBe('step 1/2\nERROR: cancelled by SIGTERM\n')
    // after the cancel: only the two last writes (the log, the failed status)
    const i = state.calls.findIndex(
      c => c.method === 'PUT' && c.form.status === 'running' && c.path.endsWith(buildId)
    )
    expect(
      state.calls.slice(i + 1).map(c => `${c.method} ${c.path.replace(buildId, 'ID')}`)
    ).toEqual([`POST /apps/${rr.app}/objects/build/ID/logs`, `PUT /apps/${rr.app}/builds/ID`])
  })

  it('completes a build made elsewhere once, and again without a second release', async () => {
    const created = await createExternalBuild(rack, buildOptions(rr.app, 'fan-out'))
    const done = await completeExternalBuild(rack, {
      app: rr.app,
      buildId: created.buildId,
      logs: 'legs\n'
    })
    const again = await completeExternalBuild(rack, {
      app: rr.app,
      buildId: created.buildId,
      logs: 'legs\n'
    })
    expect(again.releaseId).toBe(done.releaseId)
    const state = await rr.state()
    expect(rr.releasesOf(state).filter(r => r.build === created.buildId)).toHaveLength(1)
    expect(created.repository).toBe(repositoryTarget(created.build.repository).repository)
  })
})

describe('realrack: a run of the pipeline (build, push through /v2/, register, promote)', () => {
  let rr: RealRack
  let example: ExampleApp
  beforeAll(async () => {
    rr = await startRealRack(rig, { flags: ['-external-repo', 'proxy', '-atom-delay', '1s'] })
    example = await exampleApp()
  })
  afterAll(async () => {
    await rr?.stop()
    if (example) await rm(example.dir, { recursive: true, force: true })
  })

  it('a promote the rack refuses (500 required env) is one line with its message, not retried', async () => {
    const run = await runWithInputs(
      { ...rigInputs(rig), app: rr.app, 'rack-url': rr.rackUrl, promote: 'true' },
      { env: pipelineEnv(rig), cwd: example.dir }
    )
    const releaseId = rr.releasesOf(await rr.state())[0]!.id
    const promotePath = `/apps/${rr.app}/releases/${releaseId}/promote`
    // web lists GREETING without a default (examples/convox.yml): the rack checks it on promote
    expect(run.error?.message).toBe(
      `rack ${rr.host}: POST ${promotePath}: 500 required env: GREETING`
    )
    expect(callsTo(await rr.state(), 'POST', promotePath)).toEqual([500])
  })

  it('leaves one complete build, its one release, promoted, every image in the rack', async () => {
    const rack = newClient(rr.rackUrl, captureLogger())
    await rack.releaseCreate(rr.app, { env: 'GREETING=hi' })
    const before = await rr.state()
    const run = await runWithInputs(
      { ...rigInputs(rig), app: rr.app, 'rack-url': rr.rackUrl, promote: 'true' },
      { env: pipelineEnv(rig), cwd: example.dir }
    )
    if (run.error) throw run.error
    const r = run.result!
    const state = await rr.state()
    const made = (kind: 'builds' | 'releases'): Record<string, string>[] =>
      Object.values(state[kind]).filter(x => !(x.id! in before[kind]))
    expect(made('builds').map(b => [b.id, b.status, b.release])).toEqual([
      [r.buildId, 'complete', r.releaseId]
    ])
    expect(made('releases').map(x => [x.id, x.build, x.env])).toEqual([
      [r.releaseId, r.buildId, 'GREETING=hi']
    ])
    expect(state.app).toMatchObject({ release: r.releaseId, status: 'running' })
    expect(state.builds[r.buildId]!.manifest).toBe(
      await readFile(path.join(example.dir, 'convox.yml'), 'utf8')
    )
    for (const service of ['web', 'worker', 'api', 'cache']) {
      expect(r.images[service]).toBe(`${rr.host}/${rr.app}:${service}.${r.buildId}`)
      const inspect = await skopeo([
        'inspect',
        '--tls-verify=false',
        '--creds',
        `${rig.registryUsername}:${rig.registryPassword}`,
        `docker://${rig.registry}/${rr.app}:${service}.${r.buildId}`
      ])
      expect(inspect.exitCode).toBe(0)
    }
    // the promote's rendered templates run the build's images (from the rack's RepositoryHost)
    expect(state.promotions.at(-1)!.images.map(i => i.replace(/^[^/]+\//, ''))).toEqual(
      ['web', 'worker', 'api', 'cache'].map(s => `${rr.app}:${s}.${r.buildId}`)
    )
    expect(run.log.rendered()).not.toContain(rr.password)
  })
})

describe('realrack -fail-builds-503 2', () => {
  let rr: RealRack
  beforeAll(async () => {
    rr = await startRealRack(rig, { flags: ['-fail-builds-503', '2'] })
  })
  afterAll(() => rr?.stop())

  it('looks up before creating again: one build, after two 503s', async () => {
    const cap = captureLogger()
    const rack = newClient(rr.rackUrl, cap)
    const result = await runExternalBuild(rack, buildOptions(rr.app, 'after 503'), async () => ({}))
    const state = await rr.state()
    expect(callsTo(state, 'POST', `/apps/${rr.app}/builds`)).toEqual([503, 503, 200])
    expect(rr.buildsOf(state).map(b => [b.id, b.status])).toEqual([[result.buildId, 'complete']])
    // the builds there before, then each lost answer looked up (BuildList) before the next BuildCreate
    const order = state.calls
      .filter(c => c.path === `/apps/${rr.app}/builds`)
      .map(c => `${c.method} ${c.status}`)
    expect(order).toEqual(['GET 200', 'POST 503', 'GET 200', 'POST 503', 'GET 200', 'POST 200'])
  })
})

describe('realrack -atom-outcome rollback', () => {
  let rr: RealRack
  beforeAll(async () => {
    rr = await startRealRack(rig, { flags: ['-atom-outcome', 'rollback', '-atom-delay', '1s'] })
  })
  afterAll(() => rr?.stop())

  it('reports the rollback in one line', async () => {
    const cap = captureLogger()
    const rack = newClient(rr.rackUrl, cap)
    const created = await createExternalBuild(rack, buildOptions(rr.app, 'to roll back'))
    const { releaseId } = await completeExternalBuild(rack, {
      app: rr.app,
      buildId: created.buildId,
      logs: ''
    })
    const e = await promoteRelease(rack, {
      app: rr.app,
      releaseId,
      logger: cap.logger,
      pollMs: 100
    }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(PromoteError)
    expect((e as Error).message).toMatch(
      new RegExp(`^rack ${rr.host}: app ${rr.app}: release ${releaseId} rolled back`)
    )
    // the rollback then ends with the app back on the release before (Reverted)
    // (settled: the app may read running while its last step, Reverted, is still to come)
    const settled = (x: typeof state): boolean =>
      x.app.status === 'running' && x.promotions.at(-1)?.status === 'Reverted'
    let state = await rr.state()
    for (let i = 0; i < 50 && !settled(state); i++) {
      await sleep(100)
      state = await rr.state()
    }
    expect(state.app).toMatchObject({ status: 'running', release: '' })
    expect(state.promotions.at(-1)).toMatchObject({
      release: '',
      previous: releaseId,
      status: 'Reverted'
    })
  })
})

describe("realrack -tls (a self-signed certificate, as a rack's own)", () => {
  let rr: RealRack
  let certFile: string
  beforeAll(async () => {
    rr = await startRealRack(rig, { flags: ['-tls'] })
    certFile = path.join(dir, 'rack.pem')
    await writeFile(certFile, await peerCertificate(rr.host))
  })
  afterAll(() => rr?.stop())

  it('verifies by default: one line naming rack-ca and rack-insecure, never retried', async () => {
    const cap = captureLogger()
    const e = await newClient(rr.rackUrl, cap)
      .systemGet()
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RackTlsError)
    expect(e).toBeInstanceOf(UserError)
    const message = (e as Error).message
    expect(message.split('\n')).toHaveLength(1)
    expect(message).toMatch(
      new RegExp(
        `^rack ${rr.host}: its TLS certificate is not trusted \\(self-signed certificate.*\\): set rack-ca .* or rack-insecure`
      )
    )
    expect(cap.lines.filter(l => /sending again/.test(l))).toEqual([])
    expect(message).not.toContain(rr.password)
  })

  it("trusts the rack's own certificate given as rack-ca", async () => {
    const cap = captureLogger()
    const rack = newClient(rr.rackUrl, cap, { ca: certFile })
    expect((await rack.systemGet()).name).toBe('realrack')
    expect(cap.warnings).toEqual([])
  })

  it('skips verification with rack-insecure, with a warning', async () => {
    const cap = captureLogger()
    const rack = newClient(rr.rackUrl, cap, { insecure: true })
    expect((await rack.appGet(rr.app)).name).toBe(rr.app)
    expect(cap.warnings.map(w => w.message)).toEqual([
      `rack-insecure: the certificate of ${rr.host} is not verified; anyone on the way can read the rack password (prefer rack-ca)`
    ])
  })

  it('names rack-ca when its file cannot be read', () => {
    expect(() =>
      newClient(rr.rackUrl, captureLogger(), { ca: path.join(dir, 'none.pem') })
    ).toThrow(/^input "rack-ca": cannot read .*none\.pem \(ENOENT\)$/)
  })
})

/** GET with Basic auth into a file (BuildExport). */
function download(url: string, password: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { auth: `convox:${password}` }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          if (res.statusCode !== 200)
            reject(new Error(`${url}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`))
          else writeFile(file, Buffer.concat(chunks)).then(resolve, reject)
        })
      })
      .on('error', reject)
  })
}

/** The certificate a TLS server presents, as PEM. */
function peerCertificate(host: string): Promise<string> {
  const [hostname, port] = host.split(':')
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const raw = s.getPeerCertificate().raw
      s.end()
      const b64 = raw
        .toString('base64')
        .match(/.{1,64}/g)!
        .join('\n')
      resolve(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`)
    })
    s.on('error', reject)
  })
}
