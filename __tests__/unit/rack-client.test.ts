import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import { Cancelled } from '../../src/core/interrupt.js'
import {
  RackAuthError,
  RackClient,
  RackError,
  encodeParams,
  rackClientOptions
} from '../../src/core/rack/client.js'
import {
  appBuildArch,
  appEnvironment,
  envDropCheck,
  parseEnvironment
} from '../../src/core/rack/app.js'
import { PromoteError, promoteRelease } from '../../src/core/rack/promote.js'
import {
  completeExternalBuild,
  createExternalBuild,
  externalBuildTarget,
  failBuildOnError,
  failExternalBuild
} from '../../src/core/rack/external-build.js'
import { formatRackTime, parseAnyTime, parseRackTime } from '../../src/core/rack/time.js'
import { startRackFaultProxy, type FaultEntry } from '../helpers/fault-proxy.js'
import { captureLogger, type CapturedLog } from '../helpers/logger.js'
import { freePort } from '../helpers/realrack.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'
import { runExternalBuild } from '../helpers/external-build.js'

function client(server: RackServer, c: CapturedLog, extra: object = {}): RackClient {
  return new RackClient({
    rackUrl: server.rackUrl,
    secrets: c.secrets,
    logger: c.logger,
    retryDelayMs: 5,
    ...extra
  })
}

let server: RackServer
let cap: CapturedLog
beforeEach(async () => {
  server = await startRackServer({ apps: ['web'], password: 'pw-s3cret/+x' })
  cap = captureLogger()
})
afterEach(() => server.close())

describe('rack time format', () => {
  it('formats and parses 20060102.150405.000000000 in UTC', () => {
    const d = new Date(Date.UTC(2024, 1, 29, 3, 4, 5, 678))
    expect(formatRackTime(d)).toBe('20240229.030405.678000000')
    expect(parseRackTime('20240229.030405.678000000')?.getTime()).toBe(d.getTime())
    expect(parseRackTime('20241329.030405.000000000')).toBeUndefined()
    expect(parseAnyTime('2024-02-29T03:04:05.678123456Z')?.getTime()).toBe(d.getTime())
    expect(parseAnyTime('0001-01-01T00:00:00Z')).toBeUndefined()
  })

  it('encodes params like the CLI: bools, times, lists; drops unset ones', () => {
    const p = encodeParams({
      a: true,
      b: false,
      t: new Date(Date.UTC(2020, 0, 2, 3, 4, 5)),
      l: ['X=1', 'Y'],
      u: undefined,
      s: 'a b&c'
    })
    expect(p.toString()).toBe('a=true&b=false&t=20200102.030405.000000000&l=X%3D1%2CY&s=a+b%26c')
  })
})

describe('RackClient against the test rack', () => {
  it('authenticates with Basic auth and sends form-encoded params', async () => {
    const rack = client(server, cap)
    const sys = await rack.systemGet()
    expect(sys.name).toBe('test-rack')
    const b = await rack.buildCreate('web', {
      external: true,
      development: false,
      description: 'build 1',
      'git-sha': 'abc',
      manifest: 'convox.yml'
    })
    expect(b.id).toMatch(/^B[A-Z]{10}$/)
    const req = server.requests.find(r => r.method === 'POST')!
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(req.headers.authorization).toBe(
      `Basic ${Buffer.from('convox:pw-s3cret/+x').toString('base64')}`
    )
    expect(req.params).toMatchObject({
      external: 'true',
      development: 'false',
      'git-sha': 'abc',
      manifest: 'convox.yml',
      url: ''
    })
    const ended = new Date(Date.UTC(2021, 5, 6, 7, 8, 9, 10))
    const u = await rack.buildUpdate('web', b.id, { ended, status: 'running' })
    expect(u.ended).toBe('2021-06-06T07:08:09.01Z')
    expect(server.requests.at(-1)!.params.ended).toBe('20210606.070809.010000000')
    expect(server.builds.get(b.id)!.ended?.getTime()).toBe(ended.getTime())
  })

  it('masks the password, its URL form and the one inside the returned repository', async () => {
    const rack = client(server, cap)
    const b = await rack.buildCreate('web', { external: true })
    expect(b.repository).toContain(encodeURIComponent('pw-s3cret/+x'))
    expect(cap.secrets.redact(`pw-s3cret/+x ${encodeURIComponent('pw-s3cret/+x')}`)).toBe('*** ***')
  })

  it('turns a 401 into a one-line user error without the password', async () => {
    const rack = new RackClient({
      rackUrl: `http://convox:wrong-password@${server.host}`,
      retryDelayMs: 5
    })
    const e = await rack.systemGet().catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RackAuthError)
    expect(e).toBeInstanceOf(UserError)
    expect((e as Error).message).toBe(`rack ${server.host}: 401 invalid authentication`)
    expect(server.requests).toHaveLength(1)
    server.forceUnauthorized = true
    const e2 = await client(server, cap)
      .appGet('web')
      .catch((x: unknown) => x as Error)
    expect((e2 as Error).message).toBe(`rack ${server.host}: 401 invalid authentication`)
    expect((e2 as Error).message).not.toContain('pw-s3cret')
  })

  it('retries 503 twice then succeeds', async () => {
    server.fail({ path: '/system', times: 2, status: 503 })
    const sys = await client(server, cap).systemGet()
    expect(sys.name).toBe('test-rack')
    expect(server.requests.map(r => r.status)).toEqual([503, 503, 200])
    expect(cap.lines.filter(l => /503 injected 503; sending again/.test(l))).toHaveLength(2)
  })

  it('retries 409 and dropped connections, never other 4xx', async () => {
    server.fail({ path: '/apps/web', times: 1, status: 409, message: 'app is updating' })
    server.fail({ path: '/apps/web', times: 1, status: 'drop' })
    expect((await client(server, cap).appGet('web')).name).toBe('web')
    expect(server.requests).toHaveLength(3)

    server.requests.length = 0
    const e = await client(server, cap)
      .appGet('missing')
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RackError)
    expect((e as RackError).status).toBe(404)
    expect((e as Error).message).toBe(
      `rack ${server.host}: GET /apps/missing: 404 app not found: missing`
    )
    expect(server.requests).toHaveLength(1)
  })

  it('gives up after its retries with the last status', async () => {
    server.fail({ path: '/system', times: 10, status: 500, message: 'boom' })
    const e = await client(server, cap, { retries: 2 })
      .systemGet()
      .catch((x: unknown) => x as Error)
    expect((e as Error).message).toBe(`rack ${server.host}: GET /system: 500 boom`)
    expect(server.requests).toHaveLength(3)
  })

  it('never lets the password through an error body', async () => {
    server.fail({ path: '/system', times: 1, status: 400, message: 'bad pw-s3cret/+x here' })
    const e = await client(server, cap)
      .systemGet()
      .catch((x: unknown) => x as Error)
    expect((e as Error).message).toBe(`rack ${server.host}: GET /system: 400 bad *** here`)
  })

  it('rejects a bad rack-url without echoing it', () => {
    expect(() => new RackClient({ rackUrl: 'https://convox:pw-x@api.example.com:99999' })).toThrow(
      'input "rack-url": is not a URL like https://convox:<password>@api.<domain>'
    )
    expect(() => new RackClient({ rackUrl: 'ftp://convox:pw-x@h' })).toThrow(
      'input "rack-url": must start with https://'
    )
    expect(() => new RackClient({ convoxPassword: 'k', rack: 'norack' })).toThrow(/<org>\/<rack>/)
  })

  it('Console mode sends the deploy key and the Rack header', async () => {
    await server.close()
    server = await startRackServer({
      apps: ['web'],
      password: 'deploy-key-1',
      requireRack: 'acme/prod'
    })
    const rack = new RackClient({
      convoxHost: server.url,
      convoxPassword: 'deploy-key-1',
      rack: 'acme/prod',
      retryDelayMs: 5
    })
    expect(rack.mode).toBe('console')
    expect((await rack.appGet('web')).name).toBe('web')
    expect(server.requests[0]!.rack).toBe('acme/prod')
    const other = new RackClient({
      convoxHost: server.url,
      convoxPassword: 'deploy-key-1',
      rack: 'acme/staging',
      retryDelayMs: 5
    })
    await expect(other.appGet('web')).rejects.toThrow('404 no such rack: acme/staging')
  })

  it('stores and fetches objects as raw octet-stream bodies', async () => {
    const rack = client(server, cap)
    const o = await rack.objectStore('web', 'build/B1/logs', 'line 1\nline 2\n')
    expect(o.Url).toBe('object://web/build/B1/logs')
    expect(server.requests.at(-1)!.headers['content-type']).toBe('application/octet-stream')
    expect((await rack.objectFetch('web', 'build/B1/logs')).toString()).toBe('line 1\nline 2\n')
  })
})

describe('runExternalBuild', () => {
  const manifestText = 'services:\n  web:\n    build: .\n    port: 3000\n'

  it('registers one complete build with manifest, logs and exactly one release', async () => {
    const rack = client(server, cap)
    let seen:
      { buildId: string; repository: string; rackName: string; password: string } | undefined
    const result = await runExternalBuild(
      rack,
      {
        app: 'web',
        manifestText,
        description: 'build abc Fix',
        gitSha: 'abcdef',
        development: false
      },
      async ctx => {
        seen = {
          buildId: ctx.buildId,
          repository: ctx.repository,
          rackName: ctx.rackName,
          password: ctx.credentials.password
        }
        // the build is running with its manifest while we build
        expect(server.builds.get(ctx.buildId)).toMatchObject({
          status: 'running',
          manifest: manifestText
        })
        ctx.log('step 1/2')
        return {
          images: { web: `${ctx.repository}:web.${ctx.buildId}` },
          entrypoint: ['docker-entrypoint.sh', 'two words'],
          logs: 'step 2/2\n'
        }
      }
    )
    expect(seen).toEqual({
      buildId: result.buildId,
      repository: `${server.host}/web`,
      rackName: 'test-rack',
      password: 'pw-s3cret/+x'
    })
    const builds = server.buildsOf('web')
    expect(builds).toHaveLength(1)
    const b = builds[0]!
    expect(b).toMatchObject({
      id: result.buildId,
      status: 'complete',
      manifest: manifestText,
      release: result.releaseId,
      description: 'build abc Fix',
      gitSha: 'abcdef',
      entrypoint: "docker-entrypoint.sh 'two words'",
      logs: `object://web/build/${result.buildId}/logs`
    })
    expect(b.ended).toBeDefined()
    const releases = server.releasesOf('web')
    expect(releases).toHaveLength(1)
    expect(releases[0]).toMatchObject({ id: result.releaseId, build: b.id, manifest: manifestText })
    expect(server.objects.get(`web/build/${b.id}/logs`)!.toString()).toBe('step 1/2\nstep 2/2\n')
    expect(result.images).toEqual({ web: `${server.host}/web:web.${b.id}` })
    expect(cap.lines.join('\n')).not.toContain('pw-s3cret')
  })

  it('marks the build failed with the reason and rethrows', async () => {
    const rack = client(server, cap)
    const failure = new Error('failed to solve: process "/bin/sh -c exit 3" did not complete')
    const e = await runExternalBuild(
      rack,
      {
        app: 'web',
        manifestText,
        description: 'd',
        gitSha: 's',
        development: true
      },
      async ctx => {
        ctx.log('#5 RUN exit 3')
        throw failure
      }
    ).catch((x: unknown) => x)
    expect(e).toBe(failure)
    const [b] = server.buildsOf('web')
    expect(b).toMatchObject({ status: 'failed', release: '' })
    expect(b!.ended).toBeDefined()
    expect(server.releasesOf('web')).toHaveLength(0)
    // the rack keeps the reason in the build log (pkg/build/build.go fail) and ignores `reason`
    expect(server.objects.get(`web/build/${b!.id}/logs`)!.toString()).toBe(
      `#5 RUN exit 3\nERROR: ${failure.message}\n`
    )
    expect(b!.logs).toBe(`object://web/build/${b!.id}/logs`)
    const update = server.requests.filter(r => r.method === 'PUT').at(-1)!
    expect(update.params).toMatchObject({ status: 'failed', reason: failure.message })
    const create = server.requests.find(r => r.method === 'POST' && r.path === '/apps/web/builds')!
    expect(create.params.development).toBe('true')
  })

  it('marks the build failed when the rack fails after BuildCreate', async () => {
    const rack = client(server, cap, { retries: 1 })
    server.fail({
      method: 'POST',
      path: '/apps/web/releases',
      times: 5,
      status: 500,
      message: 'etcd down'
    })
    await expect(
      runExternalBuild(
        rack,
        {
          app: 'web',
          manifestText,
          description: 'd',
          gitSha: 's',
          development: false
        },
        async () => ({ images: {} })
      )
    ).rejects.toThrow('POST /apps/web/releases: 500 etcd down')
    expect(server.buildsOf('web')[0]!.status).toBe('failed')
  })
})

describe('promoteRelease', () => {
  async function release(rack: RackClient): Promise<string> {
    const r = await runExternalBuild(
      rack,
      {
        app: 'web',
        manifestText: 'services: {}\n',
        description: '',
        gitSha: '',
        development: false
      },
      async () => ({})
    )
    return r.releaseId
  }

  it('promotes and waits until the app runs the release', async () => {
    const rack = client(server, cap)
    const id = await release(rack)
    server.apps.get('web')!.updatingPolls = 2
    const app = await promoteRelease(rack, {
      app: 'web',
      releaseId: id,
      logger: cap.logger,
      pollMs: 10
    })
    expect(app).toMatchObject({ release: id, status: 'running' })
    const promote = server.requests.find(r => r.path.endsWith('/promote'))!
    expect(promote.params.force).toBe('false')
  })

  it('reports a rollback clearly', async () => {
    const rack = client(server, cap)
    const first = await release(rack)
    await promoteRelease(rack, { app: 'web', releaseId: first, logger: cap.logger, pollMs: 10 })
    const second = await release(rack)
    server.apps.get('web')!.promoteOutcome = 'rollback'
    const e = await promoteRelease(rack, {
      app: 'web',
      releaseId: second,
      logger: cap.logger,
      pollMs: 10
    }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(PromoteError)
    expect((e as Error).message).toBe(
      `rack ${server.host}: app web: release ${second} rolled back to ${first}`
    )
  })

  it('times out with the state it last saw', async () => {
    const rack = client(server, cap)
    const id = await release(rack)
    server.apps.get('web')!.updatingPolls = 1000
    await expect(
      promoteRelease(rack, {
        app: 'web',
        releaseId: id,
        logger: cap.logger,
        pollMs: 10,
        timeoutMs: 80
      })
    ).rejects.toThrow(/timed out after 0s waiting for release R[A-Z]{10} to run \(status updating/)
  })
})

const buildOptions = {
  app: 'web',
  manifestText: 'services:\n  web:\n    build: .\n',
  description: 'build 1',
  gitSha: 'abc',
  development: false
}

describe("reading the rack's answers", () => {
  it('gives a 403 the rack\'s own message, never retried, never "authentication"', async () => {
    server.fail({ path: '/apps/web', times: 1, status: 403, message: 'app is currently updating' })
    const e = await client(server, cap)
      .appGet('web')
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RackError)
    expect(e).not.toBeInstanceOf(RackAuthError)
    expect((e as Error).message).toBe(
      `rack ${server.host}: GET /apps/web: 403 app is currently updating`
    )
    expect((e as RackError).appUpdating).toBe(true)
    expect(server.requests).toHaveLength(1)
  })

  it('reads a 500 naming what is missing as final, other 500s as worth another try', async () => {
    const rack = client(server, cap)
    const e = await rack.buildGet('web', 'BXXXXXXXXXX').catch((x: unknown) => x)
    expect((e as Error).message).toBe(
      `rack ${server.host}: GET /apps/web/builds/BXXXXXXXXXX: 500 builds.convox.com "bxxxxxxxxxx" not found`
    )
    expect(e).toMatchObject({ status: 500, outcome: 'refused' })
    expect(server.requests).toHaveLength(1)

    server.requests.length = 0
    server.fail({
      path: '/system',
      times: 1,
      status: 500,
      message: 'etcdserver: request timed out'
    })
    expect((await rack.systemGet()).name).toBe('test-rack')
    expect(server.requests.map(r => r.status)).toEqual([500, 200])
  })

  it('answers a rack that never answers within its bound, in one line, without sending again', async () => {
    server.fail({ path: '/system', times: 5, status: 'hang' })
    const started = Date.now()
    const e = await client(server, cap, { timeoutMs: 300 })
      .systemGet()
      .catch((x: unknown) => x)
    expect(Date.now() - started).toBeLessThan(3000)
    expect((e as Error).message).toBe(`rack ${server.host}: GET /system: no answer within 300 ms`)
    expect(e).toMatchObject({ timedOut: true, outcome: 'ambiguous' })
    expect(server.requests).toHaveLength(1)
  })

  it('sends again what never reached the rack (connection refused), then says so', async () => {
    const port = await freePort()
    const rack = new RackClient({
      rackUrl: `http://convox:pw@127.0.0.1:${port}`,
      logger: cap.logger,
      retries: 2,
      retryDelayMs: 5
    })
    const e = await rack.releaseCreate('web', { build: 'BAAAAAAAAAA' }).catch((x: unknown) => x)
    expect((e as Error).message).toMatch(
      new RegExp(
        `^rack 127\\.0\\.0\\.1:${port}: POST /apps/web/releases: cannot connect \\(ECONNREFUSED: .*\\)$`
      )
    )
    expect(e).toMatchObject({ outcome: 'unreached' })
    expect(cap.lines.filter(l => /sending again/.test(l))).toHaveLength(2)
  })

  it("stops at once when the run is cancelled, with the run's reason", async () => {
    server.fail({ path: '/system', times: 5, status: 'hang' })
    const controller = new AbortController()
    const rack = client(server, cap, { signal: controller.signal })
    const pending = rack.systemGet().catch((x: unknown) => x)
    setTimeout(() => controller.abort(new Cancelled('SIGINT')), 50)
    const e = await pending
    expect(e).toBeInstanceOf(Cancelled)
    // every later call too, except the last writes with their own bound
    await expect(rack.appGet('web')).rejects.toBeInstanceOf(Cancelled)
    expect(server.requests).toHaveLength(1)
  })

  it('passes rack-ca and rack-insecure on from the settings', () => {
    expect(
      rackClientOptions({
        rackUrl: 'https://convox:p@h',
        convoxHost: '',
        convoxPassword: '',
        rack: '',
        rackCa: '/ca.pem',
        rackInsecure: false
      })
    ).toEqual({ rackUrl: 'https://convox:p@h', ca: '/ca.pem', insecure: false })
  })
})

describe('promoteRelease and a 403 while the app updates', () => {
  it('waits for the app to run, then promotes again', async () => {
    const rack = client(server, cap)
    const created = await createExternalBuild(rack, buildOptions)
    const { releaseId } = await completeExternalBuild(rack, {
      app: 'web',
      buildId: created.buildId,
      logs: ''
    })
    server.fail({
      path: `/apps/web/releases/${releaseId}/promote`,
      status: 403,
      message: 'app is currently updating'
    })
    const app = await promoteRelease(rack, {
      app: 'web',
      releaseId,
      logger: cap.logger,
      pollMs: 10
    })
    expect(app).toMatchObject({ release: releaseId, status: 'running' })
    expect(server.requests.filter(r => r.path.endsWith('/promote')).map(r => r.status)).toEqual([
      403, 200
    ])
  })
})

describe('exactly one build and one release, whatever the rack answers', () => {
  const cases: { name: string; rule: FaultEntry }[] = [
    {
      name: 'BuildCreate answered 502 after the rack made it',
      rule: { method: 'POST', path: '/apps/web/builds', action: { kind: 'after', status: 502 } }
    },
    {
      name: 'BuildCreate answered 504 after the rack made it',
      rule: { method: 'POST', path: '/apps/web/builds', action: { kind: 'after', status: 504 } }
    },
    {
      name: 'BuildCreate reset after the rack made it',
      rule: { method: 'POST', path: '/apps/web/builds', action: { kind: 'reset', bytes: 1 } }
    },
    {
      name: 'BuildCreate reset before it reached the rack',
      rule: { method: 'POST', path: '/apps/web/builds', action: { kind: 'drop' } }
    },
    {
      name: 'ReleaseCreate answered 502 after the rack made it',
      rule: { method: 'POST', path: '/apps/web/releases', action: { kind: 'after', status: 502 } }
    },
    {
      name: 'ReleaseCreate reset after the rack made it',
      rule: { method: 'POST', path: '/apps/web/releases', action: { kind: 'reset', bytes: 1 } }
    },
    {
      name: 'ReleaseCreate never answered after the rack made it',
      rule: { method: 'POST', path: '/apps/web/releases', action: { kind: 'hang-after' } }
    }
  ]
  it.each(cases)('$name', async c => {
    const proxy = await startRackFaultProxy(server.host)
    try {
      proxy.fault(c.rule)
      const rack = client(server, cap, {
        rackUrl: proxy.rackUrl(server.password),
        timeoutMs: 500
      })
      const result = await runExternalBuild(rack, buildOptions, async () => ({}))
      expect(server.buildsOf('web').map(b => [b.id, b.status, b.release])).toEqual([
        [result.buildId, 'complete', result.releaseId]
      ])
      expect(server.releasesOf('web').map(r => [r.id, r.build])).toEqual([
        [result.releaseId, result.buildId]
      ])
      expect(proxy.requests.filter(r => r.action !== 'pass')).toHaveLength(1)
    } finally {
      await proxy.close()
    }
  })

  it('a 500 that does not say it refused: looks up, finds nothing, creates once more', async () => {
    server.fail({
      method: 'POST',
      path: '/apps/web/releases',
      times: 1,
      status: 500,
      message: 'etcd down'
    })
    const result = await runExternalBuild(client(server, cap), buildOptions, async () => ({}))
    expect(server.releasesOf('web').map(r => r.id)).toEqual([result.releaseId])
    expect(
      server.requests
        .filter(r => r.path === '/apps/web/releases')
        .map(r => `${r.method} ${r.status}`)
    ).toEqual(['GET 200', 'POST 500', 'GET 200', 'POST 200'])
  })

  it('stops, marking the build failed, when the release answer is lost and the rack cannot be asked', async () => {
    const proxy = await startRackFaultProxy(server.host)
    try {
      proxy.fault({
        method: 'POST',
        path: '/apps/web/releases',
        action: { kind: 'after', status: 502 }
      })
      // the first ReleaseList (does the build have a release already?) passes, the lookups fail
      proxy.fault({
        method: 'GET',
        path: '/apps/web/releases',
        action: { kind: 'after', status: 502 },
        times: 2,
        skip: 1
      })
      const rack = client(server, cap, { rackUrl: proxy.rackUrl(server.password), retries: 1 })
      const e = await runExternalBuild(rack, buildOptions, async () => ({})).catch(
        (x: unknown) => x
      )
      expect((e as Error).message).toMatch(
        /POST \/apps\/web\/releases: 502; looking it up failed: rack [^ ]+ GET \/apps\/web\/releases: 502$/
      )
      // the release exists (the rack made it) and was not made twice; the build is failed
      expect(server.releasesOf('web')).toHaveLength(1)
      expect(server.buildsOf('web').map(b => b.status)).toEqual(['failed'])
    } finally {
      await proxy.close()
    }
  })
})

describe('the external build in pieces (fan-out)', () => {
  it('derives the push target a build leg uses as the rack does', async () => {
    const rack = client(server, cap)
    const created = await createExternalBuild(rack, buildOptions)
    expect(await externalBuildTarget(rack, 'web')).toEqual({
      repository: created.repository,
      credentials: created.credentials
    })
    const consoleClient = new RackClient({
      convoxHost: server.url,
      convoxPassword: 'k',
      rack: 'a/b'
    })
    await expect(externalBuildTarget(consoleClient, 'web')).rejects.toThrow(
      /^input "registry": in Console mode .* set registry and its credentials$/
    )
  })

  it('failExternalBuild never throws, and warns', async () => {
    await server.close()
    await failExternalBuild(client(server, cap, { retries: 0 }), {
      app: 'web',
      buildId: 'BAAAAAAAAAA',
      reason: 'x',
      log: ''
    })
    expect(cap.warnings.map(w => w.message)).toEqual([
      expect.stringMatching(
        /could not store the log of failed build BAAAAAAAAAA: .*cannot connect/
      ),
      expect.stringMatching(/could not mark build BAAAAAAAAAA failed: .*cannot connect/)
    ])
  })
})

describe('failBuildOnError', () => {
  const failing = async (before?: () => Promise<boolean>): Promise<{ id: string; e: unknown }> => {
    const rack = client(server, cap)
    const { id } = await rack.buildCreate('web', { external: true })
    const e = await failBuildOnError(
      rack,
      { app: 'web', buildId: id, log: e => `log of ${(e as Error).message}`, before },
      async () => {
        throw new Error('step one\nstep two')
      }
    ).catch((x: unknown) => x)
    return { id, e }
  }

  it('fails the build with the error as its reason after the log, and rethrows the error', async () => {
    const { id, e } = await failing()
    expect((e as Error).message).toBe('step one\nstep two')
    const build = server.buildsOf('web').find(b => b.id === id)!
    expect(build.status).toBe('failed')
    const log = server.objects.get(build.logs.replace(/^object:\/\//, ''))?.toString()
    expect(log).toBe('log of step one\nstep two\nERROR: step one | step two\n')
  })

  it('leaves the build alone when `before` says so, and still rethrows', async () => {
    const { id, e } = await failing(async () => false)
    expect((e as Error).message).toBe('step one\nstep two')
    expect(server.buildsOf('web').find(b => b.id === id)!.status).not.toBe('failed')
  })

  it('returns what the work returns, and touches nothing', async () => {
    const rack = client(server, cap)
    const before = server.requests.length
    const value = await failBuildOnError(
      rack,
      { app: 'web', buildId: 'BAAAAAAAAAA' },
      async () => 7
    )
    expect(value).toBe(7)
    expect(server.requests.length).toBe(before)
  })
})

describe('what the rack says about an app', () => {
  it('reads env text as Convox does (pkg/structs/environment.go Environment.Load)', () => {
    expect(parseEnvironment('A=1\r\nB=x=y\n  C  = v \nnoequals\n=empty\nA=2\n__proto__=p')).toEqual(
      Object.fromEntries([
        ['A', '2'],
        ['B', 'x=y'],
        ['C', ' v '],
        ['__proto__', 'p']
      ])
    )
    expect(Object.getPrototypeOf(parseEnvironment('__proto__=p'))).toBe(Object.prototype)
  })

  it("gives the latest release's env, and what a new build would drop", async () => {
    const rack = client(server, cap)
    expect(await appEnvironment(rack, 'web')).toEqual({})
    const r1 = await rack.releaseCreate('web', { env: 'A=1\nB=2' })
    server.apps.get('web')!.release = r1.id
    await new Promise(resolve => setTimeout(resolve, 5))
    const r2 = await rack.releaseCreate('web', { env: 'A=1' })
    expect(await appEnvironment(rack, 'web')).toEqual({ A: '1' })
    expect(await envDropCheck(rack, 'web')).toEqual({
      missing: ['B'],
      running: r1.id,
      newest: r2.id
    })
  })

  it('reads BuildArch as platforms', async () => {
    const rack = client(server, cap)
    const params = server.apps.get('web')!.parameters
    expect(await appBuildArch(rack, 'web')).toEqual([])
    params.BuildArch = 'arm64'
    expect(await appBuildArch(rack, 'web')).toEqual(['linux/arm64'])
    params.BuildArch = 'amd64,arm64'
    expect(await appBuildArch(rack, 'web')).toEqual(['linux/amd64', 'linux/arm64'])
    params.BuildArch = 'x86'
    await expect(appBuildArch(rack, 'web')).rejects.toThrow(
      `rack ${server.host}: app web has BuildArch "x86": it must be amd64 or arm64`
    )
  })
})
