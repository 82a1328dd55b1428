// The engines on the real rig: builds, pushes, build args, dedupe, registry cache, logins, errors.
import { beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan, type EngineSettings } from '../../src/core/engine/index.js'
import { BuildError, UserError } from '../../src/core/errors.js'
import { spawnExec } from '../../src/core/exec.js'
import type { Logger } from '../../src/core/log.js'
import type { Plan } from '../../src/core/plan.js'
import { buildDir } from '../helpers/dockerfile-build.js'
import { examplePlan, makePlan, rigEngineSettings } from '../helpers/engine-plan.js'
import { captureLogger } from '../helpers/logger.js'
import {
  buildctl,
  loadRig,
  makeDockerConfig,
  rigEnv,
  rigLogins,
  uniqueRepo,
  type Rig
} from '../helpers/rig.js'
import { Redactor } from '../../src/core/secrets.js'

let rig: Rig
beforeAll(() => {
  rig = loadRig()
})

function settings(
  engine: 'buildx' | 'buildctl',
  registry: string,
  over: Partial<EngineSettings> = {}
): EngineSettings {
  return rigEngineSettings(rig, engine, registry, over)
}

async function build(plan: Plan, s: EngineSettings, logger: Logger) {
  const tempDir = await mkdtemp(path.join(tmpdir(), 'engine-rig-'))
  return buildPlan(plan, s, {
    env: rigEnv(rig),
    logger,
    secrets: new Redactor(),
    exec: spawnExec,
    github: false,
    tempDir,
    localCacheDir: path.join(tempDir, 'cache')
  })
}

/** A file of a pushed image, read by building `FROM image` into a local directory. */
async function readFromImage(image: string, file: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'engine-read-'))
  await writeFile(path.join(dir, 'Dockerfile'), `FROM ${image}\n`)
  const r = await buildDir(dir, `type=local,dest=${dir}/out`, {
    dockerConfig: await makeDockerConfig(rigLogins(rig))
  })
  expect(r.stderr.split('\n').filter(l => /error/i.test(l))).toEqual([])
  return readFile(path.join(dir, 'out', file), 'utf8')
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => new Error('expected a failure'),
    (x: Error) => x
  )
  return e
}

describe.each(['buildctl', 'buildx'] as const)('engine %s on the rig', engine => {
  it('builds and pushes the example app: args, shared build, registry cache after a prune', async () => {
    const registry = uniqueRepo(`engine-${engine}`, rig)
    const auth = JSON.stringify({
      [rig.registry]: { Username: 'u', Password: rig.registryPassword }
    })
    const plan = examplePlan(registry, undefined, auth)
    const c = captureLogger()
    const r = await build(plan, settings(engine, registry), c.logger)

    expect(r.builds).toHaveLength(2)
    const by = Object.fromEntries(r.services.map(s => [s.name, s]))
    expect(by.web!.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(by.worker!.digest).toBe(by.web!.digest)
    expect(by.web!.sharedWith).toEqual(['worker'])
    expect(by.api!.digest).toMatch(/^sha256:/)
    expect(by.cache!.digest).toMatch(/^sha256:/)

    const webInfo = await readFromImage(by.web!.image, 'srv/build-info.txt')
    expect(webInfo).toBe(
      `BUILD_APP=example\nBUILD_GIT_SHA=0123456789abcdef0123456789abcdef01234567\nBUILD_ID=${plan.buildId}\nVERSION=1.2.3\n`
    )
    expect(await readFromImage(by.worker!.image, 'srv/build-info.txt')).toBe(webInfo)
    const apiInfo = await readFromImage(by.api!.image, 'srv/build-info.txt')
    expect(apiInfo).toBe(
      'BUILD_RACK=test-rack\nBUILD_GIT_SHA=0123456789abcdef0123456789abcdef01234567\nNOT_REQUESTED=\n'
    )
    expect(await readFromImage(by.api!.image, 'srv/stage')).toBe('production\n')

    // An empty builder: the second build comes from the registry cache.
    const prune = await buildctl(['prune', '--all'])
    expect(prune.exitCode).toBe(0)
    const again = examplePlan(registry, plan.buildId, auth)
    const c2 = captureLogger()
    const r2 = await build(again, settings(engine, registry), c2.logger)
    const api2 = r2.services.find(s => s.name === 'api')!
    expect(api2.cachedSteps).toBeGreaterThan(0)
    // Every step but FROM (whose layers stay in the registry, never pulled) is a cache hit.
    expect(api2.cachedSteps).toBe(api2.totalSteps - 1)
    expect(r2.services.find(s => s.name === 'web')!.cachedSteps).toBeGreaterThan(0)

    for (const text of [c.text(), c2.text(), JSON.stringify(r), JSON.stringify(r2)]) {
      expect(text).not.toContain(rig.registryPassword)
      expect(text).not.toContain(rig.hubPassword)
    }
  })

  it('pulls the base image from the Docker Hub stand-in only with the login', async () => {
    await buildctl(['prune', '--all'])
    const registry = uniqueRepo(`engine-nohub-${engine}`, rig)
    const plan = examplePlan(registry)
    plan.services = plan.services.filter(s => s.build !== null)
    const e = await errorOf(
      build(
        plan,
        settings(engine, registry, { dockerHubUsername: '', dockerHubPassword: '' }),
        captureLogger().logger
      )
    )
    expect(e).toBeInstanceOf(BuildError)
    expect(e.message.split('\n')).toHaveLength(1)
    expect(e.message).toMatch(
      /^build of (web, worker|api) failed: .*(401|[Uu]nauthorized|authoriz)/
    )
  })

  it('a wrong password is one line naming the registry', async () => {
    const registry = uniqueRepo(`engine-pw-${engine}`, rig)
    const c = captureLogger()
    const e = await errorOf(
      build(
        examplePlan(registry),
        settings(engine, registry, { registryPassword: 'wrong-pass-123' }),
        c.logger
      )
    )
    expect(e).toBeInstanceOf(UserError)
    expect(e.message).toBe(`login to ${rig.registry} failed: wrong username or password`)
    expect(c.text()).not.toContain('wrong-pass-123')
  })

  it('a stopped registry is one clear line', async () => {
    const registry = '127.0.0.1:9/nothing'
    const e = await errorOf(
      build(
        examplePlan(registry),
        settings(engine, registry, { registryUsername: '', registryPassword: '' }),
        captureLogger().logger
      )
    )
    // BuildKit's push failed: the build's failure (exit code 2), as BuildKit reports it.
    expect(e).toBeInstanceOf(BuildError)
    expect(e.message.split('\n')).toHaveLength(1)
    expect(e.message).toMatch(/127\.0\.0\.1:9.*(refused|connect)/)
  })

  it('a failing Dockerfile names the service and the failing step', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'engine-bad-'))
    await writeFile(path.join(root, 'Dockerfile'), 'FROM busybox\nRUN exit 3\n')
    const registry = uniqueRepo(`engine-bad-${engine}`, rig)
    const plan = makePlan({ root, registry, builds: [{ services: ['bad'], context: '.' }] })
    const e = await errorOf(build(plan, settings(engine, registry), captureLogger().logger))
    expect(e).toBeInstanceOf(BuildError)
    expect(e.message).toBe(
      'build of bad failed: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    )
  })
})

describe('a stopped BuildKit daemon', () => {
  it('buildctl: one line naming the address', async () => {
    const registry = uniqueRepo('engine-nobk', rig)
    const e = await errorOf(
      build(
        examplePlan(registry),
        settings('buildctl', registry, { buildkitHost: 'unix:///tmp/no-buildkitd.sock' }),
        captureLogger().logger
      )
    )
    expect(e).toBeInstanceOf(UserError)
    expect(e.message.split('\n')).toHaveLength(1)
    expect(e.message).toMatch(/BuildKit at unix:\/\/\/tmp\/no-buildkitd\.sock is not reachable/)
  })

  it('buildx: a builder on an address nothing listens on', async () => {
    const bx = await mkdtemp(path.join(tmpdir(), 'engine-bx-'))
    const env = rigEnv(rig, { BUILDX_CONFIG: bx })
    const created = await spawnExec(
      'docker',
      ['buildx', 'create', '--name', 'dead', '--driver', 'remote', 'unix:///tmp/no-buildkitd.sock'],
      { env }
    )
    expect(created.exitCode).toBe(0)
    const registry = uniqueRepo('engine-nobx', rig)
    const tempDir = await mkdtemp(path.join(tmpdir(), 'engine-rig-'))
    const e = await errorOf(
      buildPlan(examplePlan(registry), settings('buildx', registry, { builder: 'dead' }), {
        env,
        logger: captureLogger().logger,
        secrets: new Redactor(),
        exec: spawnExec,
        github: false,
        tempDir,
        localCacheDir: tempDir
      })
    )
    // buildx itself fails the build (there is no probe of a named builder, as there is of
    // buildkit-host): a build failure (exit code 2), one line naming the builder's address.
    expect(e).toBeInstanceOf(BuildError)
    expect(e.message.split('\n')).toHaveLength(1)
    expect(e.message).toMatch(/no-buildkitd\.sock|dead/)
  })
})
