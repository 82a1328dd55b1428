// Typed Plan fixtures for engine tests (createPlan is tested on its own).
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { cacheOptions } from '../../src/core/engine/cache.js'
import type { EngineSettings } from '../../src/core/engine/index.js'
import type { BuildRequest } from '../../src/core/engine/types.js'
import { spawnExec } from '../../src/core/exec.js'
import type { RunEnvironment } from '../../src/core/run-environment.js'
import type { BuildSpec, Plan, PlannedService } from '../../src/core/plan.js'
import type { BuildSecret } from '../../src/core/settings.js'
import type { CapturedLog } from './logger.js'
import { rigEnv, type Rig } from './rig.js'

export const EXAMPLES = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '../../examples'
)

export function buildId(): string {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
  return (
    'B' +
    Array.from(randomBytes(10))
      .map(b => letters[b % 26])
      .join('')
  )
}

export interface BuildFixture {
  services: string[]
  context: string
  dockerfile?: string
  argValues?: Record<string, string>
  target?: string | null
}

/** A Plan from builds and image services, rooted at `root`; images at `<registry>:<svc>.<id>`. */
export function makePlan(o: {
  root: string
  app?: string
  registry?: string
  buildId?: string
  builds: BuildFixture[]
  images?: Record<string, string>
  secrets?: BuildSecret[]
}): Plan {
  const app = o.app ?? 'example'
  const id = o.buildId ?? buildId()
  const repo = o.registry || app
  const builds: BuildSpec[] = o.builds.map(b => {
    const dockerfile = b.dockerfile ?? 'Dockerfile'
    const contextPath = path.resolve(o.root, b.context)
    const argValues = b.argValues ?? {}
    return {
      context: b.context,
      dockerfile,
      services: b.services,
      args: Object.keys(argValues).sort(),
      target: b.target ?? null,
      contextPath,
      dockerfilePath: path.join(contextPath, dockerfile),
      argValues
    }
  })
  const services: PlannedService[] = []
  builds.forEach((b, i) => {
    for (const name of b.services) {
      services.push({
        name,
        image: `${repo}:${name}.${id}`,
        build: i,
        context: b.context,
        dockerfile: b.dockerfile,
        args: b.args,
        target: b.target
      })
    }
  })
  for (const [name, from] of Object.entries(o.images ?? {})) {
    services.push({ name, image: `${repo}:${name}.${id}`, build: null, from })
  }
  return {
    app,
    buildId: id,
    manifest: 'convox.yml',
    gitSha: '0123456789abcdef0123456789abcdef01234567',
    description: 'build test',
    development: false,
    services,
    builds,
    rack: 'test-rack',
    registry: o.registry ?? '',
    manifestText: '',
    workingDirectory: o.root,
    secrets: o.secrets ?? []
  }
}

/** The example app's plan (web+worker share a build; api from api/Dockerfile.production). */
export function examplePlan(registry: string, id = buildId(), authJson?: string): Plan {
  return makePlan({
    root: EXAMPLES,
    registry,
    buildId: id,
    builds: [
      {
        services: ['web', 'worker'],
        context: '.',
        argValues: {
          BUILD_APP: 'example',
          BUILD_GIT_SHA: '0123456789abcdef0123456789abcdef01234567',
          BUILD_ID: id,
          VERSION: '1.2.3',
          ...(authJson ? { BUILD_AUTH: authJson } : {})
        }
      },
      {
        services: ['api'],
        context: 'api',
        dockerfile: 'Dockerfile.production',
        argValues: {
          BUILD_RACK: 'test-rack',
          BUILD_GIT_SHA: '0123456789abcdef0123456789abcdef01234567'
        }
      }
    ],
    images: { cache: 'busybox:1.36' }
  })
}

/**
 * Writes an app of `pairs` pairs of services sharing a build; each build's steps sleep `sleep`
 * seconds so waiting, not CPU, decides the time. Returns the Plan.
 */
export async function writeSleepyApp(o: {
  root: string
  registry: string
  pairs: number
  sleep: number
  salt?: string
  buildId?: string
}): Promise<Plan> {
  const builds: BuildFixture[] = []
  for (let i = 0; i < o.pairs; i++) {
    const dir = path.join(o.root, `svc${i}`)
    await mkdir(dir, { recursive: true })
    await writeFile(
      path.join(dir, 'Dockerfile'),
      [
        'FROM busybox',
        'ARG BUILD_ID',
        `RUN echo ${o.salt ?? 'x'}-${i} > /step1 && sleep ${o.sleep}`,
        `RUN echo two > /step2 && sleep ${o.sleep}`,
        'COPY hello.txt /hello.txt',
        ''
      ].join('\n')
    )
    await writeFile(path.join(dir, 'hello.txt'), `hello ${i}\n`)
    builds.push({ services: [`a${i}`, `b${i}`], context: `svc${i}` })
  }
  return makePlan({
    root: o.root,
    registry: o.registry,
    buildId: o.buildId ?? buildId(),
    builds
  })
}

/** Engine settings that push to `registry` on the rig, with both logins and the registry cache. */
export function rigEngineSettings(
  rig: Rig,
  engine: 'buildx' | 'buildctl',
  registry: string,
  over: Partial<EngineSettings> = {}
): EngineSettings {
  return {
    registry,
    registryUsername: rig.registryUsername,
    registryPassword: rig.registryPassword,
    dockerHubUsername: rig.hubUsername,
    dockerHubPassword: rig.hubPassword,
    dockerHubRegistry: rig.hubRegistry,
    push: true,
    cache: 'registry',
    noCache: false,
    engine,
    builder: engine === 'buildx' ? rig.buildxBuilder : '',
    buildkitHost: rig.buildkitHost,
    platforms: [],
    concurrency: 4,
    reuse: false,
    ...over
  }
}

/** Where a rig test's engine runs: the rig on PATH, `log` recording, files under `tempDir`. */
export function rigRunEnvironment(
  rig: Rig,
  log: CapturedLog,
  tempDir: string,
  localCacheDir = path.join(tempDir, 'cache')
): RunEnvironment {
  return {
    env: rigEnv(rig),
    logger: log.logger,
    secrets: log.secrets,
    exec: spawnExec,
    github: false,
    tempDir,
    localCacheDir
  }
}

/** The BUILD_AUTH of engineRequest's build. */
export const REQUEST_AUTH = '{"r.example":{"Username":"u","Password":"s3cret"}}'

/** One build of the example app for an engine's command: two tags, two platforms, a secret. */
export function engineRequest(output: BuildRequest['output'] = { type: 'push' }): BuildRequest {
  const plan = examplePlan('r.example/app', 'BABCDEFGHIJ', REQUEST_AUTH)
  const spec = plan.builds[0]!
  return {
    index: 0,
    spec,
    tags: ['r.example/app:web.BABCDEFGHIJ', 'r.example/app:worker.BABCDEFGHIJ'],
    output,
    cache: cacheOptions('registry', 'web', {
      app: 'app',
      registry: 'r.example/app',
      push: true,
      github: false,
      env: {},
      localCacheDir: '/c',
      noCache: false
    }),
    noCache: false,
    platforms: ['linux/amd64', 'linux/arm64'],
    secrets: [{ id: 'npm', value: 'npm-token' }],
    secretArgs: ['BUILD_AUTH'],
    metadataFile: '/tmp/m.json'
  }
}
