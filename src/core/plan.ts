// The build plan: the manifest and the workflow context turned into exact builds, before any
// builder runs. Pure: reads the manifest and Dockerfiles, nothing else.
import path from 'node:path'
import {
  buildAuth,
  isManagedArg,
  parseBuildArgs,
  type BuildArg,
  type ManagedArg
} from './build-args.js'
import { BUILD_AUTH, BUILD_AUTH_FIX, argsInHistory, buildAuthInHistory } from './build-auth.js'
import {
  consumedArgs,
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
import type { LoginSettings } from './docker-config.js'
import type { BuildSecret, Settings } from './settings.js'

/** One Dockerfile build; services with the same context, Dockerfile, args and target share it. */
export interface PlannedBuild {
  /** Relative to the working directory, POSIX separators, `.` for the root. */
  context: string
  /** Relative to context. */
  dockerfile: string
  /** Names of the services this build is tagged for, manifest order. */
  services: string[]
  /** Names of the build args passed (consumed by the Dockerfile's target), sorted. Never values. */
  args: string[]
  /** Those of args whose values came from the app's env (secret), sorted; none when absent. */
  appEnvArgs?: string[]
  /** `development` for development builds where that stage exists, else null. */
  target: string | null
}

/** Internal view of a build: carries the arg values the engine needs. Never output as is. */
export interface BuildSpec extends PlannedBuild {
  /** Absolute context directory. */
  contextPath: string
  /** Absolute Dockerfile path. */
  dockerfilePath: string
  /** Name to value, only for consumed args. May hold secrets (BUILD_AUTH, the app's env). */
  argValues: Record<string, string>
  /** Those of appEnvArgs whose values are secret: off the engine's argv, masked. */
  secretArgs?: string[]
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
  appEnvArgs?: string[]
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
  /** A platform leg's one platform (legs: platforms): its caches are named after it too. */
  platformLeg?: string
  /** Said after the plan when the app's env was not read: which consumed ARGs nothing fills. */
  appEnvNote?: string
}

export interface PlanContext {
  /** The build's environment: bare build args take their values from it. */
  env: NodeJS.ProcessEnv
  /**
   * The app's environment (its latest release's env on the rack) for `${VAR}` interpolation and,
   * with app-env-args, ARG values, overlaid with the requested build args as the rack does.
   * Undefined when the rack was not asked: env stands in for interpolation.
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

/** What planning reads of the settings. */
export type PlanSettings = LoginSettings &
  Pick<
    Settings,
    | 'app'
    | 'appEnvArgs'
    | 'buildArgs'
    | 'buildAuthInImage'
    | 'development'
    | 'manifest'
    | 'push'
    | 'rack'
    | 'secrets'
    | 'workingDirectory'
  >

/** Loads and checks everything a build needs; one UserError with every problem found. */
export async function createPlan(
  settings: PlanSettings,
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
  settings: PlanSettings,
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
  const sources = argSources(settings, context, requested)
  const said = new Set<string>()
  const once = (key: string, say: () => void): void => {
    if (!said.has(key)) say()
    said.add(key)
  }
  const unfilled = new Set<string>()

  for (const s of manifest.services) {
    const image = `${repository}:${s.name}.${buildId}`
    if (!s.build) {
      services.push({ name: s.name, from: s.image, image, build: null })
      continue
    }
    const { info, model, shown } = dockerfiles.get(s.build.dockerfilePath)!
    const target =
      settings.development && hasStage(info, DEVELOPMENT_TARGET) ? DEVELOPMENT_TARGET : null
    const chosen = chooseArgs(model, target, sources)
    for (const name of chosen.unfilled) unfilled.add(name)
    for (const name of chosen.engineEnv) {
      once(`engine ${name}`, () =>
        logger.warning(
          `${name} of the app's env is not passed to ARG ${name}: the build engine reads ${name} from its own environment; give it with build-args ${name}=VALUE`,
          { file: shown, line: 1, col: 1 }
        )
      )
    }
    const { argValues, appEnvArgs } = chosen
    const secretArgs = appEnvArgs.filter(n => !JSON_SCALAR.test(argValues[n]!))
    for (const name of secretArgs) logger.mask(argValues[name]!)
    const args = Object.keys(argValues)
    for (const name of args) if (!appEnvArgs.includes(name)) used.add(name)
    const key = JSON.stringify([s.build.context, s.build.dockerfile, argValues, target])
    let index = byKey.get(key)
    if (index === undefined) {
      for (const [name, at] of argsInHistory(model, target, argValues, appEnvArgs)) {
        once(`history ${name}`, () =>
          logger.warning(
            `${name} from the app's env is recorded in the image history of ${s.name}, as on the rack (BuildKit writes the build args of each RUN into it): anyone who can pull the image can read its value; read it as a secret (RUN --mount=type=secret) or in a stage the image only copies from`,
            { file: shown, line: at.line, col: at.col }
          )
        )
      }
    }
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
        appEnvArgs,
        target,
        contextPath: s.build.contextPath,
        dockerfilePath: s.build.dockerfilePath,
        argValues,
        secretArgs
      })
    }
    builds[index]!.services.push(s.name)
    services.push({
      name: s.name,
      context: s.build.context,
      dockerfile: s.build.dockerfile,
      image,
      args,
      appEnvArgs,
      target,
      build: index
    })
  }

  const declared = new Set([...dockerfiles.values()].flatMap(d => d.info.args))
  for (const a of requested) {
    // BUILD_AUTH is a BuildKit secret too, whether or not an ARG declares it.
    if (used.has(a.name) || a.name === BUILD_AUTH) continue
    logger.warning(
      declared.has(a.name)
        ? `build arg ${a.name} is declared (ARG ${a.name}) where no build's target reads it (a stage it does not reach, or a global ARG no FROM names): it is not passed`
        : `build arg ${a.name} is not declared (ARG ${a.name}) by any Dockerfile of this build: it is not passed`,
      { input: 'build-args', line: a.line }
    )
  }
  const names = [...unfilled].sort(compare)
  const appEnvNote =
    settings.appEnvArgs && !context.appEnv
      ? `the app's env was not read (no rack): ARGs take values from build-args only` +
        (names.length > 0
          ? `; none fills ${names.join(', ')} (on the rack the app's env would give them: pass them with build-args)`
          : '')
      : undefined

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
    secrets: auth ? [...settings.secrets, { id: BUILD_AUTH, value: auth.value }] : settings.secrets,
    appEnvNote
  }
}

/**
 * Values of the app's env that are not kept secret: masking `true` or `3000` would garble every
 * JSON output and digest they occur in, and such a value hides nothing.
 */
const JSON_SCALAR = /^(true|false|null|-?\d+(\.\d+)?)$/

/**
 * Names the build engine's own process reads from its environment, where the values of the app's
 * env travel (never on its command line): passing one would change how the engine runs.
 */
const ENGINE_ENV =
  /^(PATH|HOME|TMPDIR|LD_\w+|(DOCKER|BUILDKIT|BUILDX)_\w+|(HTTPS?|FTP|NO|ALL)_PROXY|(https?|ftp|no|all)_proxy)$/

/**
 * Where ARG values come from, as the rack makes its `env` (pkg/build/buildkit.go Build): the app's
 * env (with app-env-args; managed BUILD_* names only ever from build-args), the requested build
 * args overriding it.
 */
function argSources(
  settings: PlanSettings,
  context: PlanContext,
  requested: BuildArg[]
): Map<string, { value: string; appEnv: boolean }> {
  const sources = new Map<string, { value: string; appEnv: boolean }>()
  if (settings.appEnvArgs) {
    for (const [name, value] of Object.entries(context.appEnv ?? {})) {
      if (!isManagedArg(name)) sources.set(name, { value, appEnv: true })
    }
  }
  for (const a of requested) sources.set(a.name, { value: a.value, appEnv: false })
  return sources
}

interface ArgChoice {
  /** The consumed ARGs some source fills, name to value, sorted. */
  argValues: Record<string, string>
  /** Those whose value is the app env's. */
  appEnvArgs: string[]
  /** Consumed ARGs nothing fills (no source, no default, not managed). */
  unfilled: string[]
  /** Names the app's env would fill that the engine reads itself: not passed. */
  engineEnv: string[]
}

/** The values a build of `target` gets: for each ARG BuildKit consumes, its source's. */
function chooseArgs(
  model: DockerfileModel,
  target: string | null,
  sources: Map<string, { value: string; appEnv: boolean }>
): ArgChoice {
  const choice: ArgChoice = { argValues: {}, appEnvArgs: [], unfilled: [], engineEnv: [] }
  const entries: [string, string][] = []
  const all = Object.fromEntries([...sources].map(([k, v]) => [k, v.value]))
  for (const name of consumedArgs(model, target, all).sort(compare)) {
    const source = sources.get(name)
    if (!source) {
      if (!hasDefault(model, name) && !isManagedArg(name)) choice.unfilled.push(name)
    } else if (source.appEnv && ENGINE_ENV.test(name)) {
      choice.engineEnv.push(name)
    } else {
      entries.push([name, source.value])
      if (source.appEnv) choice.appEnvArgs.push(name)
    }
  }
  // Own properties only: an ARG named __proto__ stays a name.
  choice.argValues = Object.fromEntries(entries)
  return choice
}

/** True when some ARG of the Dockerfile gives `name` a default. */
function hasDefault(model: DockerfileModel, name: string): boolean {
  const all = [...model.globalArgs, ...model.stages.flatMap(s => s.args)]
  return all.some(a => a.name === name && a.default !== undefined)
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
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
            ...fromAppEnv(s.appEnvArgs),
            target: s.target ?? null,
            build: s.build
          }
    ),
    builds: plan.builds.map(b => ({
      context: b.context,
      dockerfile: b.dockerfile,
      services: [...b.services],
      args: [...b.args],
      ...fromAppEnv(b.appEnvArgs),
      target: b.target
    }))
  }
}

/** `appEnvArgs` where some arg's value came from the app's env (the documented plan otherwise). */
function fromAppEnv(names: string[] | undefined): { appEnvArgs?: string[] } {
  return names?.length ? { appEnvArgs: [...names] } : {}
}

/** The plan in a few lines for the log: one per build (services, context/Dockerfile, target, arg names), one per image service. */
export function planLines(plan: Plan | PlanOutput, buildIdFrom = ''): string[] {
  // A build the rack is to make has its id only once the rack made it.
  const id = buildIdFrom ? `(build id from ${buildIdFrom})` : plan.buildId
  const lines = [
    `${plan.app} ${id}: ${count(plan.services.length, 'service')}, ${count(plan.builds.length, 'build')}`
  ]
  plan.builds.forEach((b, i) => {
    const file = path.posix.join(b.context, b.dockerfile)
    const target = b.target ? `, target ${b.target}` : ''
    const fromEnv = b.appEnvArgs?.length ? ` (from the app's env: ${b.appEnvArgs.join(' ')})` : ''
    const args = b.args.length > 0 ? `, args ${b.args.join(' ')}${fromEnv}` : ''
    lines.push(`build ${i + 1}: ${b.services.join(', ')} from ${file}${target}${args}`)
  })
  for (const s of plan.services) {
    if (s.build === null) lines.push(`image: ${s.name} from ${s.from ?? ''}`)
  }
  return lines
}

/** The `matrix` output: `strategy.matrix` for a fan-out's build legs. */
export interface Matrix {
  /** With legs per platform, each entry has its `platform`, and the `runner` mapped to it. */
  include: { services: string; platform?: string; runner?: string }[]
}

/** Legs per platform: the platforms built, and a runner hint for each (platform-runners). */
export interface PlatformLegs {
  platforms: string[]
  runners: Record<string, string>
}

/**
 * One leg per distinct build (services that share a build stay together), or `maxLegs` legs
 * with the builds dealt round them in order; image services are left to the finish stage. With
 * platform legs, each of those entries once per platform (maxLegs counts the groups).
 */
export function planMatrix(
  plan: Pick<PlanOutput, 'builds'>,
  maxLegs = 0,
  platformLegs?: PlatformLegs
): Matrix {
  const legs = maxLegs > 0 ? Math.min(maxLegs, plan.builds.length) : plan.builds.length
  const services: string[][] = Array.from({ length: legs }, () => [])
  plan.builds.forEach((b, i) => services[i % legs]!.push(...b.services))
  const groups = services.map(s => s.join(','))
  if (!platformLegs) return { include: groups.map(s => ({ services: s })) }
  const { platforms, runners } = platformLegs
  return {
    include: groups.flatMap(s =>
      platforms.map(platform => {
        const runner = runners[platform]
        return runner ? { services: s, platform, runner } : { services: s, platform }
      })
    )
  }
}
