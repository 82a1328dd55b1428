// The build plan: the manifest and the workflow context turned into exact builds, before any
// builder runs. Pure: reads the manifest and Dockerfiles, nothing else.
import path from 'node:path'
import { buildAuth, parseBuildArgs, type BuildArg, type ManagedArg } from './build-args.js'
import { readDockerfile, hasStage, type DockerfileInfo } from './dockerfile.js'
import { UserError, isUserError, type Problem } from './errors.js'
import { newBuildId } from './ids.js'
import type { Logger } from './log.js'
import { loadManifest, type Manifest } from './manifest.js'
import type { Settings } from './settings.js'

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
}

export interface PlanContext {
  /** Environment for `${VAR}` interpolation and bare build args. */
  env: NodeJS.ProcessEnv
  /** The commit built (BUILD_GIT_SHA): see git.ts resolveGitSha. */
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
  const manifest = collect(() =>
    loadManifest({
      workingDirectory: settings.workingDirectory,
      manifest: settings.manifest,
      env: context.env,
      logger
    })
  )
  if (manifest && manifest.services.length === 0) {
    problems.push({
      file: manifest.file,
      line: 1,
      col: 1,
      message: 'no services: the manifest has nothing to build (a "services" map is needed)'
    })
  }
  const dockerfiles = new Map<string, DockerfileInfo>()
  for (const s of manifest?.services ?? []) {
    if (!s.build || dockerfiles.has(s.build.dockerfilePath)) continue
    const shown = path.posix.join(s.build.context, s.build.dockerfile)
    const info = collect(() => readDockerfile(s.build!.dockerfilePath, shown))
    if (info) dockerfiles.set(s.build.dockerfilePath, info)
  }
  if (problems.length > 0 || !manifest) throw new UserError(problems)

  return assemble(settings, context, buildId, manifest, dockerfiles, requested, logger)
}

function assemble(
  settings: Settings,
  context: PlanContext,
  buildId: string,
  manifest: Manifest,
  dockerfiles: Map<string, DockerfileInfo>,
  requested: BuildArg[],
  logger: Logger
): Plan {
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
    const info = dockerfiles.get(s.build.dockerfilePath)!
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
    if (used.has(a.name)) continue
    logger.warning(
      `build arg ${a.name} is not declared (ARG ${a.name}) by any Dockerfile of this build: it is not passed`,
      { input: 'build-args', line: a.line }
    )
  }

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
    workingDirectory: settings.workingDirectory
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
export function planLines(plan: Plan | PlanOutput): string[] {
  const lines = [
    `${plan.app} ${plan.buildId}: ${plan.services.length} services, ${plan.builds.length} builds`
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
