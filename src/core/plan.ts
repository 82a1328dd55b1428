// The build plan: the manifest and the workflow context turned into exact builds, before any
// builder runs. Pure: reads the manifest and Dockerfiles, nothing else.
import path from 'node:path'
import { buildAuth, parseBuildArgs, type BuildArg, type ManagedArg } from './build-args.js'
import { BUILD_AUTH, BUILD_AUTH_FIX, buildAuthInHistory } from './build-auth.js'
import {
  dockerfileInfo,
  hasStage,
  readDockerfileModel,
  type DockerfileInfo,
  type DockerfileModel
} from './dockerfile.js'
import { UserError, isUserError, type Problem } from './errors.js'
import { newBuildId } from './ids.js'
import type { Logger } from './log.js'
import { loadManifest, type Manifest } from './manifest.js'
import type { BuildSecret, Settings } from './settings.js'

/** One Dockerfile build; services with the same context, Dockerfile, args and target share it. */
export interface PlannedBuild {
  /** Relative to the working directory, POSIX separators, `.` for the root. */
  context: string
  /** Relative to context. */
  dockerfile: string
  /** Names of the services this build is tagged for, manifest order. */
  services: string[]
  /** Names of the build args passed (declared by the Dockerfile), sorted. Never values. */
  args: string[]
  /** `development` for development builds where that stage exists, else null. */
  target: string | null
}

/** Internal view of a build: carries the arg values the engine needs. Never output as is. */
export interface BuildSpec extends PlannedBuild {
  /** Absolute context directory. */
  contextPath: string
  /** Absolute Dockerfile path. */
  dockerfilePath: string
  /** Name to value, only for declared args. May hold secrets (BUILD_AUTH). */
  argValues: Record<string, string>
}

export interface PlannedService {
  name: string
  /** `<registry>:<service>.<BUILD_ID>`, or `<app>:<service>.<BUILD_ID>` without a registry. */
  image: string
  /** Index into builds; null for image services. */
  build: number | null
  /** Build services only. */
  context?: string
  dockerfile?: string
  args?: string[]
  target?: string | null
  /** Image services only: the image copied into the repository. */
  from?: string
}

/** The output `plan` (action-interface.md): no values of build args anywhere. */
export interface PlanOutput {
  app: string
  buildId: string
  manifest: string
  gitSha: string
  description: string
  development: boolean
  services: PlannedService[]
  builds: PlannedBuild[]
}

/** What the engine executes. */
export interface Plan extends Omit<PlanOutput, 'builds'> {
  builds: BuildSpec[]
  rack: string
  /** Repository images are pushed to; '' when not pushing (images are local names). */
  registry: string
  /** Raw, uninterpolated manifest text (the rack stores it on the build). */
  manifestText: string
  /** Absolute working directory. */
  workingDirectory: string
  /** BuildKit secrets of every build: the `secrets` input, and BUILD_AUTH when requested. */
  secrets: BuildSecret[]
}

export interface PlanContext {
  /** The build's environment: bare build args take their values from it. */
  env: NodeJS.ProcessEnv
  /**
   * The app's environment (its latest release's env on the rack) for `${VAR}` interpolation,
   * overlaid with the requested build args as the rack does. Without it, env stands in.
   */
  appEnv?: Record<string, string>
  /** The commit built (BUILD_GIT_SHA): see ci/context.ts readCiContext. */
  gitSha: string
  description: string
  /** The rack's build id when registering; else one is generated. */
  buildId?: string
  /** The rack's name when known (BUILD_RACK); else settings.rack. */
  rackName?: string
}

export const DEVELOPMENT_TARGET = 'development'

/** Loads and checks everything a build needs; one UserError with every problem found. */
export async function createPlan(
  settings: Settings,
  context: PlanContext,
  logger: Logger
): Promise<Plan> {
  const buildId = context.buildId ?? newBuildId()
  const problems: Problem[] = []
  const collect = <T>(fn: () => T): T | undefined => {
    try {
      return fn()
    } catch (e) {
      if (!isUserError(e)) throw e
      problems.push(...e.problems)
      return undefined
    }
  }

  const managed: Record<ManagedArg, () => string> = {
    BUILD_APP: () => settings.app,
    BUILD_AUTH: () => buildAuth(settings),
    BUILD_DEVELOPMENT: () => String(settings.development),
    BUILD_GENERATION: () => '2',
    BUILD_GIT_SHA: () => context.gitSha,
    BUILD_ID: () => buildId,
    BUILD_MANIFEST: () => settings.manifest,
    BUILD_RACK: () => context.rackName || settings.rack
  }
  const requested =
    collect(() =>
      parseBuildArgs(settings.buildArgs, { env: context.env, managed: n => managed[n](), logger })
    ) ?? []
  // The rack interpolates with the app's env overlaid with the build args (pkg/build/buildkit.go
  // Build: AppEnvironment, then buildEnvs).
  const interpolation: NodeJS.ProcessEnv = { ...(context.appEnv ?? context.env) }
  for (const a of requested) interpolation[a.name] = a.value
  const manifest = collect(() =>
    loadManifest({
      workingDirectory: settings.workingDirectory,
      manifest: settings.manifest,
      env: interpolation,
      logger
    })
  )
  if (manifest && manifest.services.length === 0) {
    // The rack builds nothing then, and succeeds.
    logger.warning('no services: the manifest has nothing to build', {
      file: manifest.file,
      line: 1,
      col: 1
    })
  }
  const dockerfiles = new Map<string, Dockerfile>()
  for (const s of manifest?.services ?? []) {
    if (!s.build || dockerfiles.has(s.build.dockerfilePath)) continue
    const shown = path.posix.join(s.build.context, s.build.dockerfile)
    const model = collect(() => readDockerfileModel(s.build!.dockerfilePath, shown))
    if (model)
      dockerfiles.set(s.build.dockerfilePath, { model, info: dockerfileInfo(model), shown })
  }
  const auth = requested.find(a => a.name === BUILD_AUTH)
  if (auth && settings.secrets.some(x => x.id === BUILD_AUTH)) {
    problems.push({
      input: 'secrets',
      message: `secret id ${BUILD_AUTH} is taken: BUILD_AUTH in build-args is also a BuildKit secret of that id; give this secret another id`
    })
  }
  if (problems.length > 0 || !manifest) throw new UserError(problems)

  return assemble(settings, context, buildId, manifest, dockerfiles, requested, auth, logger)
}

interface Dockerfile {
  model: DockerfileModel
  info: DockerfileInfo
  /** Its path from the working directory, for problems. */
  shown: string
}

function assemble(
  settings: Settings,
  context: PlanContext,
  buildId: string,
  manifest: Manifest,
  dockerfiles: Map<string, Dockerfile>,
  requested: BuildArg[],
  /** BUILD_AUTH among the requested build args. */
  auth: BuildArg | undefined,
  logger: Logger
): Plan {
  const problems: Problem[] = []
  const repository = settings.registry || settings.app
  const builds: BuildSpec[] = []
  const byKey = new Map<string, number>()
  const services: PlannedService[] = []
  const used = new Set<string>()

  for (const s of manifest.services) {
    const image = `${repository}:${s.name}.${buildId}`
    if (!s.build) {
      services.push({ name: s.name, from: s.image, image, build: null })
      continue
    }
    const { info, model, shown } = dockerfiles.get(s.build.dockerfilePath)!
    const argValues: Record<string, string> = {}
    for (const a of [...requested].sort((x, y) => compare(x.name, y.name))) {
      if (!info.args.includes(a.name)) continue
      argValues[a.name] = a.value
      used.add(a.name)
    }
    const args = Object.keys(argValues)
    const target =
      settings.development && hasStage(info, DEVELOPMENT_TARGET) ? DEVELOPMENT_TARGET : null
    const key = JSON.stringify([s.build.context, s.build.dockerfile, argValues, target])
    let index = byKey.get(key)
    if (index === undefined && argValues[BUILD_AUTH] !== undefined) {
      const leak = buildAuthInHistory(model, target, argValues)
      if (leak && settings.buildAuthInImage) {
        logger.warning(
          `BUILD_AUTH is recorded in the image history of ${s.name} (build-auth-in-image: true): anyone who can pull the image can read the registry passwords`,
          { file: shown, line: leak.line, col: leak.col }
        )
      } else if (leak) {
        problems.push({
          file: shown,
          line: leak.line,
          col: leak.col,
          message: `BUILD_AUTH would be recorded in the history of the image of ${s.name} (BuildKit writes the build args of each RUN into it): ${BUILD_AUTH_FIX}`
        })
      }
    }
    if (index === undefined) {
      index = builds.length
      byKey.set(key, index)
      builds.push({
        context: s.build.context,
        dockerfile: s.build.dockerfile,
        services: [],
        args,
        target,
        contextPath: s.build.contextPath,
        dockerfilePath: s.build.dockerfilePath,
        argValues
      })
    }
    builds[index]!.services.push(s.name)
    services.push({
      name: s.name,
      context: s.build.context,
      dockerfile: s.build.dockerfile,
      image,
      args,
      target,
      build: index
    })
  }

  for (const a of requested) {
    // BUILD_AUTH is a BuildKit secret too, whether or not an ARG declares it.
    if (used.has(a.name) || a.name === BUILD_AUTH) continue
    logger.warning(
      `build arg ${a.name} is not declared (ARG ${a.name}) by any Dockerfile of this build: it is not passed`,
      { input: 'build-args', line: a.line }
    )
  }

  if (problems.length > 0) throw new UserError(problems)
  return {
    app: settings.app,
    buildId,
    manifest: settings.manifest,
    gitSha: context.gitSha,
    description: context.description,
    development: settings.development,
    services,
    builds,
    rack: context.rackName || settings.rack,
    registry: settings.push ? settings.registry : '',
    manifestText: manifest.text,
    workingDirectory: settings.workingDirectory,
    secrets: auth ? [...settings.secrets, { id: BUILD_AUTH, value: auth.value }] : settings.secrets
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The output `plan`, keys in the documented order, no arg values. */
export function planOutput(plan: Plan | PlanOutput): PlanOutput {
  return {
    app: plan.app,
    buildId: plan.buildId,
    manifest: plan.manifest,
    gitSha: plan.gitSha,
    description: plan.description,
    development: plan.development,
    services: plan.services.map(s =>
      s.build === null
        ? { name: s.name, from: s.from, image: s.image, build: null }
        : {
            name: s.name,
            context: s.context,
            dockerfile: s.dockerfile,
            image: s.image,
            args: [...(s.args ?? [])],
            target: s.target ?? null,
            build: s.build
          }
    ),
    builds: plan.builds.map(b => ({
      context: b.context,
      dockerfile: b.dockerfile,
      services: [...b.services],
      args: [...b.args],
      target: b.target
    }))
  }
}

/** The plan in a few lines for the log: one per build (services, context/Dockerfile, target, arg names), one per image service. */
export function planLines(plan: Plan | PlanOutput, buildIdFrom = ''): string[] {
  // A build the rack is to make has its id only once the rack made it.
  const id = buildIdFrom ? `(build id from ${buildIdFrom})` : plan.buildId
  const lines = [
    `${plan.app} ${id}: ${plan.services.length} services, ${plan.builds.length} builds`
  ]
  plan.builds.forEach((b, i) => {
    const file = path.posix.join(b.context, b.dockerfile)
    const target = b.target ? `, target ${b.target}` : ''
    const args = b.args.length > 0 ? `, args ${b.args.join(' ')}` : ''
    lines.push(`build ${i + 1}: ${b.services.join(', ')} from ${file}${target}${args}`)
  })
  for (const s of plan.services) {
    if (s.build === null) lines.push(`image: ${s.name} from ${s.from ?? ''}`)
  }
  return lines
}

/** The `matrix` output: `strategy.matrix` for a fan-out's build legs. */
export interface Matrix {
  include: { services: string }[]
}

/**
 * One leg per distinct build (services that share a build stay together), or `maxLegs` legs
 * with the builds dealt round them in order; image services are left to the finish stage.
 */
export function planMatrix(plan: Pick<PlanOutput, 'builds'>, maxLegs = 0): Matrix {
  const legs = maxLegs > 0 ? Math.min(maxLegs, plan.builds.length) : plan.builds.length
  const services: string[][] = Array.from({ length: legs }, () => [])
  plan.builds.forEach((b, i) => services[i % legs]!.push(...b.services))
  return { include: services.map(s => ({ services: s.join(',') })) }
}
