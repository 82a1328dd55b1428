import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { UserError } from '../../src/core/errors.js'
import type { Logger } from '../../src/core/log.js'
import { createPlan, planMatrix, planOutput, type Plan } from '../../src/core/plan.js'
import { readSettings, type Settings } from '../../src/core/settings.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SHA = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d'

function recorder(): Logger & { warnings: string[]; masked: string[]; lines: string[] } {
  const warnings: string[] = []
  const masked: string[] = []
  const lines: string[] = []
  return {
    warnings,
    masked,
    lines,
    info: m => lines.push(m),
    debug: m => lines.push(m),
    warning: (m, where) => warnings.push(where?.line ? `${where.line}: ${m}` : m),
    mask: s => masked.push(s),
    group: (_t, fn) => fn()
  }
}

function settingsFor(dir: string, inputs: Record<string, string> = {}): Settings {
  return readSettings(name => inputs[name] ?? '', {
    env: { GITHUB_REPOSITORY: 'acme/myapp' },
    cwd: dir
  })
}

function tempApp(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-'))
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), content)
  }
  return dir
}

async function plan(
  dir: string,
  inputs: Record<string, string> = {},
  env: NodeJS.ProcessEnv = {},
  logger = recorder()
): Promise<Plan> {
  return createPlan(
    settingsFor(dir, inputs),
    { env, gitSha: SHA, description: 'build 1a2b3c4d5e Fix login', buildId: 'BABCDEFGHIJ' },
    logger
  )
}

describe('createPlan on the example app', () => {
  it('plans exactly what action-interface.md documents', async () => {
    const logger = recorder()
    const p = await plan(
      path.join(root, 'examples'),
      {
        registry: 'registry.example.com/acme/myapp',
        'build-args': 'BUILD_GIT_SHA\nBUILD_APP\nBUILD_RACK\nVERSION=1.2.3\nUNUSED=x',
        rack: 'production'
      },
      {},
      logger
    )
    const out = planOutput(p)
    expect(JSON.stringify(out)).toBe(
      JSON.stringify({
        app: 'myapp',
        buildId: 'BABCDEFGHIJ',
        manifest: 'convox.yml',
        gitSha: SHA,
        description: 'build 1a2b3c4d5e Fix login',
        development: false,
        services: [
          {
            name: 'web',
            context: '.',
            dockerfile: 'Dockerfile',
            image: 'registry.example.com/acme/myapp:web.BABCDEFGHIJ',
            args: ['BUILD_APP', 'BUILD_GIT_SHA', 'VERSION'],
            target: null,
            build: 0
          },
          {
            name: 'worker',
            context: '.',
            dockerfile: 'Dockerfile',
            image: 'registry.example.com/acme/myapp:worker.BABCDEFGHIJ',
            args: ['BUILD_APP', 'BUILD_GIT_SHA', 'VERSION'],
            target: null,
            build: 0
          },
          {
            name: 'api',
            context: 'api',
            dockerfile: 'Dockerfile.production',
            image: 'registry.example.com/acme/myapp:api.BABCDEFGHIJ',
            args: ['BUILD_GIT_SHA', 'BUILD_RACK'],
            target: null,
            build: 1
          },
          {
            name: 'cache',
            from: 'busybox:1.36',
            image: 'registry.example.com/acme/myapp:cache.BABCDEFGHIJ',
            build: null
          }
        ],
        builds: [
          {
            context: '.',
            dockerfile: 'Dockerfile',
            services: ['web', 'worker'],
            args: ['BUILD_APP', 'BUILD_GIT_SHA', 'VERSION'],
            target: null
          },
          {
            context: 'api',
            dockerfile: 'Dockerfile.production',
            services: ['api'],
            args: ['BUILD_GIT_SHA', 'BUILD_RACK'],
            target: null
          }
        ]
      })
    )
    expect(p.builds[0]?.argValues).toEqual({
      BUILD_APP: 'myapp',
      BUILD_GIT_SHA: SHA,
      VERSION: '1.2.3'
    })
    expect(p.builds[1]?.argValues).toEqual({ BUILD_GIT_SHA: SHA, BUILD_RACK: 'production' })
    expect(p.builds[1]?.dockerfilePath).toBe(path.join(root, 'examples/api/Dockerfile.production'))
    expect(p.registry).toBe('registry.example.com/acme/myapp')
    expect(p.rack).toBe('production')
    expect(p.manifestText).toBe(fs.readFileSync(path.join(root, 'examples/convox.yml'), 'utf8'))
    expect(logger.warnings).toEqual([
      '5: build arg UNUSED is not declared (ARG UNUSED) by any Dockerfile of this build: it is not passed'
    ])
  })

  it('targets development only where the stage exists', async () => {
    const p = await plan(path.join(root, 'examples'), { development: 'true' })
    expect(p.development).toBe(true)
    expect(p.services.map(s => [s.name, s.target ?? null])).toEqual([
      ['web', null],
      ['worker', null],
      ['api', 'development'],
      ['cache', null]
    ])
    expect(p.builds.map(b => b.target)).toEqual([null, 'development'])
  })

  it('names images <app>:<service>.<id> without a registry and generates a build id', async () => {
    const p = await createPlan(
      settingsFor(path.join(root, 'examples')),
      { env: {}, gitSha: SHA, description: 'd' },
      recorder()
    )
    expect(p.buildId).toMatch(/^B[A-Z]{10}$/)
    expect(p.services[0]?.image).toBe(`myapp:web.${p.buildId}`)
    expect(p.registry).toBe('')
  })
})

describe('createPlan rules', () => {
  const dockerfile = 'FROM scratch\nARG A\nARG B=2\n'
  it.each([
    [
      'same build path and Dockerfile share one build',
      'services:\n  a:\n    build: .\n  b:\n    build: ./\n  c: {}\n',
      [['a', 'b', 'c']]
    ],
    [
      'a different Dockerfile is another build',
      'services:\n  a:\n    build: .\n  b:\n    build:\n      manifest: Dockerfile.other\n',
      [['a'], ['b']]
    ],
    [
      'a different path is another build',
      'services:\n  a:\n    build: .\n  b:\n    build: sub\n',
      [['a'], ['b']]
    ]
  ])('%s', async (_name, yml, groups) => {
    const dir = tempApp({
      'convox.yml': yml,
      Dockerfile: dockerfile,
      'Dockerfile.other': dockerfile,
      'sub/Dockerfile': dockerfile
    })
    const p = await plan(dir)
    expect(p.builds.map(b => b.services)).toEqual(groups)
  })

  it('gives each build only the args its Dockerfile declares, and splits builds by values', async () => {
    const dir = tempApp({
      'convox.yml': 'services:\n  a:\n    build: one\n  b:\n    build: two\n',
      'one/Dockerfile': 'FROM scratch\nARG A\n',
      'two/Dockerfile': 'FROM scratch\nARG B\n'
    })
    const logger = recorder()
    const p = await plan(dir, { 'build-args': 'A=1\nB=2\nC=3\nBUILD_ID' }, {}, logger)
    expect(p.builds.map(b => b.argValues)).toEqual([{ A: '1' }, { B: '2' }])
    expect(p.services.map(s => s.args)).toEqual([['A'], ['B']])
    expect(logger.warnings).toEqual([
      '3: build arg C is not declared (ARG C) by any Dockerfile of this build: it is not passed',
      '4: build arg BUILD_ID is not declared (ARG BUILD_ID) by any Dockerfile of this build: it is not passed'
    ])
  })

  it('passes every managed arg with the rack values, BUILD_AUTH masked', async () => {
    const dir = tempApp({
      'convox.yml': 'services:\n  web: {}\n',
      Dockerfile:
        'FROM scratch\nARG BUILD_APP BUILD_RACK BUILD_ID BUILD_GENERATION BUILD_DEVELOPMENT\nARG BUILD_MANIFEST BUILD_GIT_SHA BUILD_AUTH\n'
    })
    const logger = recorder()
    const p = await createPlan(
      settingsFor(dir, {
        'build-args':
          'BUILD_APP\nBUILD_RACK\nBUILD_ID\nBUILD_GENERATION\nBUILD_DEVELOPMENT\nBUILD_MANIFEST\nBUILD_GIT_SHA\nBUILD_AUTH',
        rack: 'settings-rack',
        registry: 'reg.example.com/acme/myapp',
        'registry-username': 'u',
        'registry-password': 'p@ss'
      }),
      { env: {}, gitSha: SHA, description: 'd', buildId: 'BQWERTYUIOP', rackName: 'org/real-rack' },
      logger
    )
    const values = p.builds[0]?.argValues
    expect(values).toEqual({
      BUILD_APP: 'myapp',
      BUILD_AUTH: '{"reg.example.com/acme/myapp":{"Username":"u","Password":"p@ss"}}',
      BUILD_DEVELOPMENT: 'false',
      BUILD_GENERATION: '2',
      BUILD_GIT_SHA: SHA,
      BUILD_ID: 'BQWERTYUIOP',
      BUILD_MANIFEST: 'convox.yml',
      BUILD_RACK: 'org/real-rack'
    })
    expect(logger.masked).toContain(values?.BUILD_AUTH)
    const out = JSON.stringify(planOutput(p))
    expect(out).not.toContain('p@ss')
    expect(out).toContain('"BUILD_AUTH"')
  })

  it('passes no managed arg that is not named', async () => {
    const dir = tempApp({
      'convox.yml': 'services:\n  web: {}\n',
      Dockerfile: 'FROM scratch\nARG BUILD_APP BUILD_ID BUILD_AUTH\n'
    })
    const logger = recorder()
    const p = await plan(dir, {}, {}, logger)
    expect(p.builds[0]?.argValues).toEqual({})
    expect(p.builds[0]?.args).toEqual([])
    expect(logger.masked).toEqual([])
  })

  it('copies image services and builds nothing for them', async () => {
    const dir = tempApp({
      'convox.yml':
        'services:\n  redis:\n    image: redis:7\n  db:\n    image: ghcr.io/acme/pg@sha256:' +
        'a'.repeat(64) +
        '\n'
    })
    const p = await plan(dir, { registry: 'r.example/x' })
    expect(planOutput(p).services).toEqual([
      { name: 'redis', from: 'redis:7', image: 'r.example/x:redis.BABCDEFGHIJ', build: null },
      {
        name: 'db',
        from: 'ghcr.io/acme/pg@sha256:' + 'a'.repeat(64),
        image: 'r.example/x:db.BABCDEFGHIJ',
        build: null
      }
    ])
    expect(p.builds).toEqual([])
  })

  it('reports manifest, Dockerfile and build-args problems together', async () => {
    const dir = tempApp({
      'convox.yml': 'services:\n  web:\n    build: missing\n  Bad:\n    image: redis\n',
      Dockerfile: 'FROM scratch\n'
    })
    const e = await plan(dir, { 'build-args': 'NOPE\n1X=2' }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(UserError)
    const problems = (e as UserError).problems
    expect(problems).toEqual([
      {
        input: 'build-args',
        line: 1,
        message: expect.stringContaining('NOPE is not a managed build arg')
      },
      { input: 'build-args', line: 2, message: expect.stringContaining('"1X=" is not a valid') },
      {
        file: 'convox.yml',
        line: 4,
        col: 3,
        message: expect.stringContaining('service name Bad invalid')
      },
      { file: 'convox.yml', line: 3, col: 12, message: 'build path "missing" does not exist' }
    ])
  })

  it('reports every missing build path and Dockerfile at once, with positions', async () => {
    const dir = tempApp({
      'convox.yml':
        'services:\n  a:\n    build: nowhere\n  b:\n    build:\n      path: sub\n      manifest: Dockerfile.x\n'
    })
    fs.mkdirSync(path.join(dir, 'sub'))
    const e = (await plan(dir).catch((x: unknown) => x)) as UserError
    expect(e.problems).toEqual([
      { file: 'convox.yml', line: 3, col: 12, message: 'build path "nowhere" does not exist' },
      {
        file: 'convox.yml',
        line: 7,
        col: 17,
        message:
          'no Dockerfile at sub/Dockerfile.x (build path "sub", Dockerfile "Dockerfile.x", from the working directory)'
      }
    ])
  })

  it.each([
    [
      'reports a bad escape directive in a Dockerfile with its position',
      { 'convox.yml': 'services:\n  web: {}\n', Dockerfile: '# escape=x\nFROM scratch\n' },
      { file: 'Dockerfile', line: 1, col: 1, message: expect.stringContaining('invalid escape') }
    ]
  ])('%s', async (_name, files: Record<string, string>, problem) => {
    const dir = tempApp(files)
    const e = (await plan(dir).catch((x: unknown) => x)) as UserError
    expect(e.problems).toEqual([problem])
  })

  it('interpolates from the given environment and takes bare args from it', async () => {
    const dir = tempApp({
      'convox.yml': 'services:\n  web:\n    build: ${DIR}\n  cache:\n    image: redis:${TAG}\n',
      'app/Dockerfile': 'FROM scratch\nARG TOKEN\n'
    })
    const p = await plan(
      dir,
      { 'build-args': 'TOKEN' },
      { DIR: 'app', TAG: '7-alpine', TOKEN: 't0k' }
    )
    expect(p.services[0]?.context).toBe('app')
    expect(p.services[1]?.from).toBe('redis:7-alpine')
    expect(p.builds[0]?.argValues).toEqual({ TOKEN: 't0k' })
    expect(p.manifestText).toContain('${DIR}')
  })

  // pkg/build/buildkit.go Build: Load gets the app's env (common.AppEnvironment) overlaid with
  // the build args (build.go buildEnvs: NAME=VALUE verbatim, a bare NAME from the build's env).
  it.each([
    ['a NAME=VALUE build arg', 'VERSION=1.2', {}, undefined, 'web:1.2'],
    ['a bare managed arg', 'BUILD_GIT_SHA', {}, undefined, `web:${SHA}`],
    ['a bare arg from the environment', 'VERSION', { VERSION: '3' }, undefined, 'web:3'],
    ['the app env', '', { VERSION: 'ci' }, { VERSION: 'app' }, 'web:app'],
    ['a build arg over the app env', 'VERSION=9', {}, { VERSION: 'app' }, 'web:9'],
    ['the CI env standing in for the app env', '', { VERSION: 'ci' }, undefined, 'web:ci']
  ])('interpolates ${VAR} with %s', async (_n, args, env, appEnv, image) => {
    const dir = tempApp({
      'convox.yml': 'services:\n  web:\n    image: web:${VERSION}${BUILD_GIT_SHA}\n'
    })
    const p = await createPlan(
      settingsFor(dir, { 'build-args': args }),
      { env, appEnv, gitSha: SHA, description: 'd', buildId: 'BABCDEFGHIJ' },
      recorder()
    )
    expect(p.services[0]?.from).toBe(image)
  })

  it('plans no services where the manifest has none, as the rack builds nothing', async () => {
    const log = recorder()
    const p = await plan(
      tempApp({ 'convox.yml': 'resources:\n  db:\n    type: postgres\n' }),
      {},
      {},
      log
    )
    expect(p.services).toEqual([])
    expect(log.warnings).toContainEqual(expect.stringContaining('no services'))
  })
})

// BuildKit writes the build args in scope of each RUN into the image history (dockerfile2llb
// dispatchRun / runCommandString: `RUN |1 BUILD_AUTH=... /bin/sh -c ...`), so BUILD_AUTH must not
// be in scope in a stage the image carries: the final stage and those it is FROM.
describe('BUILD_AUTH and the image history', () => {
  const app = (dockerfile: string) =>
    tempApp({ 'convox.yml': 'services:\n  web:\n    build: .\n', Dockerfile: dockerfile })
  const auth = {
    'build-args': 'BUILD_AUTH',
    registry: 'registry.example.com/acme/myapp',
    'registry-username': 'ci',
    'registry-password': 'pw-in-auth'
  }
  const problemsOf = async (dir: string, inputs: Record<string, string> = auth) =>
    plan(dir, inputs).then(
      () => [],
      (e: UserError) => e.problems
    )

  it('refuses BUILD_AUTH in the final stage, at its ARG line, with the fix', async () => {
    const problems = await problemsOf(app('FROM busybox\nARG BUILD_AUTH\nRUN echo hi\n'))
    expect(problems).toEqual([
      expect.objectContaining({
        file: 'Dockerfile',
        line: 2,
        message: expect.stringMatching(
          /^BUILD_AUTH would be recorded in the history of the image of web .*RUN --mount=type=secret,id=BUILD_AUTH,env=BUILD_AUTH .*build-auth-in-image: true/
        )
      })
    ])
  })

  it('refuses it in a stage the final stage is FROM', async () => {
    const problems = await problemsOf(
      app('FROM busybox AS base\nARG BUILD_AUTH\nRUN echo a\nFROM base\nRUN echo b\n')
    )
    expect(problems.map(p => p.line)).toEqual([2])
  })

  it('takes it in a build stage the image only copies from, passing the value there', async () => {
    const p = await plan(
      app(
        'FROM busybox AS fetch\nARG BUILD_AUTH\nRUN echo "$BUILD_AUTH" > /dev/null\nFROM busybox\nCOPY --from=fetch /etc/hostname /x\nRUN echo done\n'
      ),
      auth
    )
    expect(p.builds[0]!.args).toEqual(['BUILD_AUTH'])
    expect(JSON.parse(p.builds[0]!.argValues.BUILD_AUTH!)).toEqual({
      'registry.example.com/acme/myapp': { Username: 'ci', Password: 'pw-in-auth' }
    })
  })

  it('follows the development target: the stage built is the one judged', async () => {
    const dir = app(
      'FROM busybox AS development\nARG BUILD_AUTH\nRUN echo dev\nFROM busybox\nRUN echo prod\n'
    )
    expect(await problemsOf(dir)).toEqual([])
    expect((await problemsOf(dir, { ...auth, development: 'true' })).map(p => p.line)).toEqual([2])
  })

  it('keeps the rack behaviour on request, warning at the ARG line', async () => {
    const logger = recorder()
    const p = await plan(
      app('FROM busybox\nARG BUILD_AUTH\nRUN echo hi\n'),
      { ...auth, 'build-auth-in-image': 'true' },
      {},
      logger
    )
    expect(p.builds[0]!.args).toEqual(['BUILD_AUTH'])
    expect(logger.warnings).toEqual([
      expect.stringMatching(/^2: BUILD_AUTH is recorded in the image history of web/)
    ])
  })

  it('is a BuildKit secret whenever requested, declared or not, and no undeclared-arg warning', async () => {
    const logger = recorder()
    const p = await plan(
      app('FROM busybox\nRUN --mount=type=secret,id=BUILD_AUTH true\n'),
      { ...auth, secrets: 'npm=tok' },
      {},
      logger
    )
    expect(p.builds[0]!.args).toEqual([])
    expect(p.secrets.map(s => s.id)).toEqual(['npm', 'BUILD_AUTH'])
    expect(JSON.parse(p.secrets[1]!.value)).toHaveProperty(['registry.example.com/acme/myapp'])
    expect(logger.warnings).toEqual([])
  })

  it('refuses a secret of its own with the id BUILD_AUTH while BUILD_AUTH is requested', async () => {
    const problems = await problemsOf(app('FROM busybox\n'), { ...auth, secrets: 'BUILD_AUTH=x' })
    expect(problems).toEqual([
      expect.objectContaining({ input: 'secrets', message: expect.stringMatching(/is taken/) })
    ])
  })
})

describe('planMatrix', () => {
  const builds = (...groups: string[][]) => ({
    builds: groups.map(services => ({
      context: '.',
      dockerfile: 'Dockerfile',
      services,
      args: [],
      target: null
    }))
  })

  it('gives one leg per distinct build, services that share a build together', () => {
    expect(planMatrix(builds(['web', 'worker'], ['api']))).toEqual({
      include: [{ services: 'web,worker' }, { services: 'api' }]
    })
  })

  it('deals the builds round max-legs legs, in order', () => {
    expect(planMatrix(builds(['a'], ['b', 'c'], ['d'], ['e'], ['f']), 2)).toEqual({
      include: [{ services: 'a,d,f' }, { services: 'b,c,e' }]
    })
    expect(planMatrix(builds(['a'], ['b']), 5).include).toHaveLength(2)
  })

  it('has no leg when there is nothing to build (image services are copied by finish)', () => {
    expect(planMatrix(builds())).toEqual({ include: [] })
  })

  it('with platform legs, gives an entry per build and platform, with its runner when mapped', () => {
    const legs = {
      platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
      runners: { 'linux/arm64': 'ubuntu-24.04-arm', 'linux/amd64': 'ubuntu-24.04' }
    }
    expect(planMatrix(builds(['web', 'worker'], ['api']), 0, legs)).toEqual({
      include: [
        { services: 'web,worker', platform: 'linux/amd64', runner: 'ubuntu-24.04' },
        { services: 'web,worker', platform: 'linux/arm64', runner: 'ubuntu-24.04-arm' },
        { services: 'web,worker', platform: 'linux/arm/v7' },
        { services: 'api', platform: 'linux/amd64', runner: 'ubuntu-24.04' },
        { services: 'api', platform: 'linux/arm64', runner: 'ubuntu-24.04-arm' },
        { services: 'api', platform: 'linux/arm/v7' }
      ]
    })
  })

  it('with platform legs, max-legs groups the builds, each group once per platform', () => {
    const legs = { platforms: ['linux/amd64', 'linux/arm64'], runners: {} }
    expect(planMatrix(builds(['a'], ['b'], ['c']), 2, legs).include).toEqual([
      { services: 'a,c', platform: 'linux/amd64' },
      { services: 'a,c', platform: 'linux/arm64' },
      { services: 'b', platform: 'linux/amd64' },
      { services: 'b', platform: 'linux/arm64' }
    ])
  })
})
