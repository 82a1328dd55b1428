import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import { RackAuthError, RackClient, RackError, encodeParams } from '../../src/core/rack/client.js'
import { PromoteError, promoteRelease } from '../../src/core/rack/promote.js'
import { runExternalBuild } from '../../src/core/rack/external-build.js'
import { formatRackTime, parseAnyTime, parseRackTime } from '../../src/core/rack/time.js'
import { captureLogger, type CapturedLog } from '../helpers/logger.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'

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
    expect(cap.lines.filter(l => /503 injected 503; retrying/.test(l))).toHaveLength(2)
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
        development: false,
        logger: cap.logger
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
        development: true,
        logger: cap.logger
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
          development: false,
          logger: cap.logger
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
        development: false,
        logger: cap.logger
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
