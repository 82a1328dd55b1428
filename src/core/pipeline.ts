// The one entry point both shells call, as the stages a fan-out runs on separate machines:
//   start:  the plan, checked whole, and the rack's build (its id is BUILD_ID);
//   build:  the images of some or all services, pushed as <service>.<BUILD_ID>;
//   finish: every image there, the record, the export and exactly one release.
// `all` runs the three in one process. Between machines only the build id and the registry's
// contents travel: each stage plans again from the same checkout and settings.
import { isManagedArg } from './build-args.js'
import { defaultDescription, noCi, unknownCommit } from './commit.js'
import { loginsFromSettings } from './docker-config.js'
import {
  buildPlan,
  prepareEngine,
  registryTools,
  type BuildPlanResult,
  type EnginePreparation,
  type RegistryTools
} from './engine/index.js'
import { BuildFailure } from './engine/run-build.js'
import { UserError } from './errors.js'
import { buildRecord, preciseNow, type PreciseTime } from './export/record.js'
import { writeExport, type ExportSource } from './export/tarball.js'
import { newReleaseId } from './ids.js'
import type { Logger } from './log.js'
import {
  createPlan,
  planLines,
  planMatrix,
  planOutput,
  type Matrix,
  type Plan,
  type PlanContext,
  type PlanOutput
} from './plan.js'
import { decidePlatforms, type PlatformChoice } from './platform-choice.js'
import { forEachLimit } from './pool.js'
import {
  appBuildArch,
  appEnvironment,
  completeExternalBuild,
  createExternalBuild,
  envDropCheck,
  externalBuildTarget,
  failExternalBuild,
  failureReason,
  CLEANUP_CALL,
  parseAnyTime,
  promoteRelease,
  RackClient,
  rackClientOptions,
  runImport,
  type ExternalBuildTarget
} from './rack/index.js'
import { RegistryClient } from './registry/client.js'
import { getImageConfig, shellJoin } from './registry/image-config.js'
import { parseReference } from './registry/reference.js'
import type { RunEnvironment, ServiceReport } from './run-environment.js'
import { Redactor } from './secrets.js'
import { addSettingsSecrets, type Settings, type Stage } from './settings.js'
import { checkTargetFile } from './target-file.js'
import { describeScope, guardForkCode } from './trust.js'

export interface PipelineResult {
  /** The stage this run was (`all` for one-process runs, dry runs and imports). */
  stage: Stage
  plan: PlanOutput
  buildId: string
  releaseId: string
  images: Record<string, string>
  digests: Record<string, string>
  services: ServiceReport[]
  /** Absolute path of the export tarball, '' when none was written. */
  exportPath: string
  /** Warnings raised on the way (also already logged as warnings). */
  warnings: string[]
  /** Build-arg names passed to some build (values are never reported). */
  buildArgNames: string[]
  /** Those of buildArgNames whose values came from the app's env. */
  appEnvArgNames?: string[]
  /** The fan-out's build legs (the `matrix` output). */
  matrix: Matrix
  /** Which platforms were built, and why (`linux/arm64 (the app's BuildArch)`). */
  platforms: string
  /** The run's trust scope and why (`scope pr-7 (untrusted): pull_request from acme/app`). */
  scope?: string
  durationMs: number
}

/** What a run knows before any stage: its settings, logger, rack and the commit built. */
interface Run {
  settings: Settings
  run: RunEnvironment
  logger: Logger
  warnings: string[]
  rack?: RackClient
  gitSha: string
  description: string
  /** No commit when BUILD_GIT_SHA is asked for: reported after the manifest's problems. */
  gitProblem?: UserError
  /**
   * Starts the logins, the engine's probe and git's index for a push target, once it is known:
   * they do not wait for the plan. Undefined where nothing is built.
   */
  prepare?: (target: Settings) => void
  prepared?: EnginePreparation
  /** The run's platforms and why (the input, the app's BuildArch, the builder's own). */
  platforms?: PlatformChoice
  /** describeScope of the run's trust scope. */
  scope: string
}

/** What start makes, and what build and finish find again from the build id. */
interface Started {
  plan: Plan
  /** The settings of the push target: the user's registry, else the rack's. */
  target: Settings
  /** Set when the build is registered on the rack. */
  rackBuildId?: string
  /** The rack's build was failed already (by a build leg): finish names what is missing. */
  rackFailed?: boolean
  started: PreciseTime
}

interface Built {
  result: BuildPlanResult
  tools: RegistryTools
}

interface Finished {
  releaseId: string
  services: ServiceReport[]
  exportPath: string
}

export async function runPipeline(
  settings: Settings,
  run: RunEnvironment
): Promise<PipelineResult> {
  const startedAt = Date.now()
  const r = await prepare(settings, run)
  try {
    return await stages(r, startedAt)
  } finally {
    // The private docker config goes whatever happened.
    const prepared = await r.prepared?.ready.catch(() => undefined)
    await prepared?.dispose()
  }
}

/** The stages this run is, from its settings. */
async function stages(r: Run, startedAt: number): Promise<PipelineResult> {
  const { settings } = r
  if (settings.import) return importStage(r, startedAt)
  const s =
    settings.stage === 'build' || settings.stage === 'finish' ? await resume(r) : await start(r)
  // Said once the plan stands: a manifest's problems are the only lines of a failed plan.
  r.logger.info(r.scope)
  if (settings.stage === 'start' || settings.dryRun) return resultOf(r, s, startedAt)
  let handedOver = false
  let only: string[] | undefined
  try {
    only = settings.stage === 'build' ? legServices(r, s.plan) : undefined
    const built = settings.stage === 'finish' ? undefined : await build(r, s, only)
    if (settings.stage === 'build') return resultOf(r, s, startedAt, built)
    const finished = await finish(r, s, built, () => {
      handedOver = true
    })
    return resultOf(r, s, startedAt, built, finished)
  } catch (e) {
    // A build this run registered ends failed, never created or running (from the release on,
    // completeExternalBuild marks it failed itself).
    if (r.rack && s.rackBuildId && !handedOver && !s.rackFailed) {
      await failRackBuild(r, r.rack, s, e, only)
    }
    throw e
  }
}

/**
 * Marks the rack's build failed with the reason and the log; a build leg stores its log beside
 * the others first and leaves the build alone when another leg failed it already (so the first
 * failure's log stays the build's).
 */
async function failRackBuild(
  r: Run,
  rack: RackClient,
  s: Started,
  e: unknown,
  only: string[] | undefined
): Promise<void> {
  const log = e instanceof BuildFailure ? redactArgValues(s.plan, e.log) : ''
  const buildId = s.rackBuildId!
  if (r.settings.stage === 'build') {
    const first = e instanceof BuildFailure ? e.services[0] : only?.[0]
    const key = first ? legLogKey(buildId, buildFirstService(s.plan, first)) : undefined
    if (key) {
      await rack
        .objectStore(r.settings.app, key, rack.scrub(log), {}, CLEANUP_CALL)
        .catch(() => undefined)
    }
    const now = await rack.buildGet(r.settings.app, buildId, CLEANUP_CALL).catch(() => undefined)
    if (now?.status === 'failed') return
  }
  await failExternalBuild(rack, {
    app: r.settings.app,
    buildId,
    reason: failureReason(rack, e),
    log
  })
}

/** The first service of the build a service is in: what names the build's log and cache. */
function buildFirstService(p: Plan, service: string): string {
  const svc = p.services.find(x => x.name === service)
  return (
    (svc?.build !== null && svc?.build !== undefined && p.builds[svc.build]?.services[0]) || service
  )
}

/** Secrets, warnings, the rack client and the commit: what every stage needs. */
async function prepare(settings: Settings, run: RunEnvironment): Promise<Run> {
  addSettingsSecrets(run.secrets, settings)
  const warnings: string[] = []
  const logger: Logger = {
    ...run.logger,
    warning: (message, where) => {
      warnings.push(message)
      run.logger.warning(message, where)
    }
  }
  const options = rackClientOptions(settings)
  const rack = options
    ? new RackClient({ ...options, secrets: run.secrets, logger, signal: run.signal })
    : undefined
  const r: Run = {
    settings,
    run: { ...run, logger },
    logger,
    warnings,
    rack,
    gitSha: '',
    description: '',
    scope: ''
  }
  if (settings.import) return r
  const ci = (await run.ci) ?? noCi(settings.gitSha)
  // Before any network call: a dry run makes none but the rack's read-only GETs (the app's env).
  if (!settings.dryRun || rack) guardForkCode(ci.forkCode, settings)
  r.scope = describeScope(ci.scope)
  if ((settings.stage === 'all' || settings.stage === 'build') && !settings.dryRun) {
    r.prepare = target => {
      r.prepared = prepareEngine(target, r.run, { workingDirectory: target.workingDirectory })
    }
    // Without a rack the push target is the settings' own: start now.
    if (!rack && settings.stage === 'all') r.prepare(settings)
  }
  if (!ci.commit) {
    const unknown = unknownCommit(ci, settings.buildArgs, settings.workingDirectory)
    if ('problem' in unknown) r.gitProblem = new UserError(unknown.problem)
    else logger.warning(unknown.warning)
  }
  r.gitSha = ci.commit
  r.description = settings.description || defaultDescription(ci)
  return r
}

/** The plan of `target`, its lines in the Plan group; manifest problems before a missing commit. */
async function plan(
  r: Run,
  target: Settings,
  ids: Pick<PlanContext, 'buildId' | 'rackName' | 'appEnv'>,
  quiet = false
): Promise<Plan> {
  const context: PlanContext = { env: r.run.env, gitSha: r.gitSha, description: r.description }
  // Planned again with the rack's ids: its warnings were all given the first time.
  if (quiet) return createPlan(target, { ...context, ...ids }, { ...r.logger, warning: () => {} })
  const planned = await r.logger.group('Plan', async () => {
    const p = await createPlan(target, { ...context, ...ids }, r.logger)
    const provisional = !ids.buildId && r.rack && !r.settings.dryRun ? 'the rack' : ''
    for (const line of planLines(p, provisional)) r.logger.info(line)
    if (p.appEnvNote) r.logger.info(p.appEnvNote)
    return p
  })
  if (r.gitProblem) throw r.gitProblem
  return planned
}

/**
 * The app's env, which the rack interpolates convox.yml with and takes ARG values from; read in
 * dry runs too (GETs only) when the rack is known.
 */
async function appEnv(r: Run): Promise<Record<string, string> | undefined> {
  if (!r.rack) return undefined
  return appEnvironment(r.rack, r.settings.app)
}

/** Start: the plan checked whole before anything is created, then the rack's build. */
async function start(r: Run): Promise<Started> {
  const { settings, rack } = r
  const env = await appEnv(r)
  const first = await plan(r, settings, { appEnv: env })
  if (settings.export && settings.stage === 'all') await checkTargetFile(settings.export, 'export')
  if (settings.stage !== 'all' && !settings.registry && !rack) {
    throw new UserError({
      input: 'stage',
      message:
        'a fan-out hands images from stage to stage through a registry: set registry, or register on a rack'
    })
  }
  const started = preciseNow()
  const { platforms } = await decide(r)
  if (settings.dryRun || !rack) {
    return { plan: first, target: { ...settings, platforms }, started }
  }

  await guardEnvDrop(r, rack)
  const created = await createExternalBuild(rack, {
    app: settings.app,
    manifest: settings.manifest,
    manifestText: first.manifestText,
    description: r.description,
    gitSha: r.gitSha,
    development: settings.development,
    noCache: settings.noCache
  })
  try {
    const target = {
      ...(settings.registry ? settings : rackTarget(settings, created)),
      platforms
    }
    r.prepare?.(target)
    const ids = { buildId: created.buildId, rackName: created.rackName, appEnv: env }
    return { plan: await plan(r, target, ids, true), target, rackBuildId: created.buildId, started }
  } catch (e) {
    await failExternalBuild(rack, {
      app: settings.app,
      buildId: created.buildId,
      reason: failureReason(rack, e),
      log: ''
    })
    throw e
  }
}

/** Build and finish stages: the build start made, found again from its id on the rack. */
async function resume(r: Run): Promise<Started> {
  const { settings, rack } = r
  const buildId = settings.buildId
  // Before the release is made: a bad export path must not fail a build after it.
  if (settings.export && settings.stage === 'finish') {
    await checkTargetFile(settings.export, 'export')
  }
  if (!rack) {
    if (!settings.registry) {
      throw new UserError({
        input: 'registry',
        message: `stage ${settings.stage} finds the images of build ${buildId} in the registry: set registry, or register on a rack`
      })
    }
    const target = { ...settings, platforms: (await decide(r)).platforms }
    r.prepare?.(target)
    return { plan: await plan(r, target, { buildId }), target, started: preciseNow() }
  }
  const existing = await rack.buildGet(settings.app, buildId)
  const ended = existing.status === 'failed' || existing.status === 'complete'
  if (settings.stage === 'build' && ended) {
    throw new UserError({
      input: 'build-id',
      message: `build ${buildId} on the rack is ${existing.status}: nothing more is built into it`
    })
  }
  const [system, pushTo, env, choice] = await Promise.all([
    rack.systemGet(),
    settings.registry
      ? Promise.resolve(settings)
      : externalBuildTarget(rack, settings.app).then(t => rackTarget(settings, t)),
    appEnv(r),
    decide(r)
  ])
  const target = { ...pushTo, platforms: choice.platforms }
  r.prepare?.(target)
  return {
    plan: await plan(r, target, { buildId, rackName: system.name, appEnv: env }),
    target,
    rackBuildId: buildId,
    rackFailed: existing.status === 'failed',
    started: { date: parseAnyTime(existing.started) ?? new Date() }
  }
}

/**
 * The platforms built for: the input, else the app's BuildArch when registering (a rack's nodes
 * may be arm64: an external build gets no platform pin from the rack), else the builder's own.
 */
async function decide(r: Run): Promise<PlatformChoice> {
  const { settings, rack } = r
  const arch =
    rack && !settings.dryRun && settings.platforms.length === 0
      ? ((await appBuildArch(rack, settings.app))[0] ?? '')
      : undefined
  r.platforms = decidePlatforms({ input: settings.platforms, buildArch: arch })
  r.logger.info(r.platforms.reason)
  return r.platforms
}

/** The app's newest complete build but this one: its per-build cache is the freshest. */
async function previousBuild(r: Run, s: Started): Promise<string | undefined> {
  if (!r.rack || !s.rackBuildId || r.settings.cacheTags === 'mutable') return undefined
  const builds = await r.rack.buildList(r.settings.app, 20)
  return builds.find(b => b.status === 'complete' && b.id !== s.rackBuildId)?.id
}

/** The rack's repository as the push target, when the user pushes nowhere else. */
function rackTarget(settings: Settings, t: ExternalBuildTarget): Settings {
  return {
    ...settings,
    registry: t.repository,
    registryUsername: t.credentials.username,
    registryPassword: t.credentials.password,
    push: true
  }
}

/** CLI 3.25.1's environment drop guard, before the build is registered. */
async function guardEnvDrop(r: Run, rack: RackClient): Promise<void> {
  if (r.settings.envDropGuard === 'off') return
  const check = await envDropCheck(rack, r.settings.app)
  if (check.missing.length === 0) return
  const message = `this build's release would drop env that the running release ${check.running} has: ${check.missing.join(', ')} (a new release inherits the newest release, ${check.newest}, which lacks it; convox env set it, or env-drop-guard: off)`
  if (r.settings.envDropGuard === 'strict')
    throw new UserError({ input: 'env-drop-guard', message })
  r.logger.warning(message)
}

/** A leg's services: as given, checked against the plan, or those of its matrix entry. */
function legServices(r: Run, p: Plan): string[] {
  const { leg } = r.settings
  if (leg) {
    const entry = planMatrix(planOutput(p), leg.total).include[leg.index - 1]
    if (!entry) r.logger.info(`leg ${leg.index}/${leg.total}: no build falls to this leg`)
    return entry ? entry.services.split(',') : []
  }
  const services = r.settings.services
  const known = p.services.map(s => s.name)
  const unknown = services.filter(s => !known.includes(s))
  if (unknown.length > 0) {
    throw new UserError({
      input: 'services',
      message: `${unknown.map(s => `"${s}"`).join(', ')} ${unknown.length === 1 ? 'is not a service' : 'are not services'} of the manifest (${known.join(', ')})`
    })
  }
  return services
}

/** Build: the images of `only` (default every service), pushed as <service>.<BUILD_ID>. */
async function build(r: Run, s: Started, only?: string[]): Promise<Built> {
  const { settings } = r
  // Started by prepare (`all` without a rack), start or resume, once the push target is known.
  const preparation = r.prepared
  if (!preparation) throw new Error('the engine was not prepared before the build')
  const result = await buildPlan(s.plan, s.target, r.run, {
    only,
    ociArchives: !s.target.push && settings.export !== '',
    preparation,
    previousBuildId: previousBuild(r, s)
  })
  if (r.rack && s.rackBuildId && settings.stage === 'build') {
    await storeLegLogs(r.rack, settings.app, s, result)
  }
  return { result, tools: preparation.tools }
}

/** Where a build leg keeps a build's log on the rack, for the finish stage to gather. */
function legLogKey(buildId: string, firstService: string): string {
  return `build/${buildId}/legs/${firstService}.log`
}

async function storeLegLogs(
  rack: RackClient,
  app: string,
  s: Started,
  result: BuildPlanResult
): Promise<void> {
  for (const b of result.builds) {
    // Named after the build's first service in the plan, whichever leg built it.
    const first = s.plan.builds[b.index]?.services[0]
    if (!first) continue
    const log = rack.scrub(redactArgValues(s.plan, b.log))
    try {
      await rack.objectStore(app, legLogKey(s.plan.buildId, first), log)
    } catch (e) {
      rack.logger.warning(
        `could not store the log of ${b.services.join(', ')}: ${(e as Error).message}`
      )
    }
  }
}

/**
 * Finish: every image there (image services copied now when a leg did not), then the record,
 * the rack's release (exactly one; `completed` is called when the rack takes over its bookkeeping), the export and
 * the promote.
 */
async function finish(
  r: Run,
  s: Started,
  built: Built | undefined,
  completed: () => void
): Promise<Finished> {
  const { settings, rack, logger } = r
  const { plan: p, target } = s
  const tools =
    built?.tools ??
    registryTools(loginsFromSettings(target), target.dockerHubRegistry, logger, r.run.signal)
  const services = built?.result.services ?? (await gatherImages(r, s, tools, !s.rackFailed))
  if (s.rackFailed) {
    throw new UserError(
      `build ${p.buildId} was failed on the rack (by a build leg, its log says why): it gets no release`
    )
  }
  // The rack and build.json keep the first service's entrypoint; nobody else reads it.
  const first = p.services[0]
  const entrypoint =
    target.push && first && (rack || settings.export)
      ? (await getImageConfig(tools.client, parseReference(first.image), target.platforms[0]))
          .entrypoint
      : []
  const logs = built
    ? builtLogs(p, built.result)
    : rack && s.rackBuildId
      ? await gatherLegLogs(rack, s)
      : ''

  let releaseId: string
  let recordLogs = logs
  if (rack && s.rackBuildId) {
    completed()
    const done = await completeExternalBuild(rack, {
      app: settings.app,
      buildId: s.rackBuildId,
      logs,
      entrypoint
    })
    releaseId = done.releaseId
    recordLogs = done.build.logs || logs
  } else {
    releaseId = newReleaseId()
  }

  let exportPath = ''
  if (settings.export) {
    exportPath = await logger.group('Export', async () => {
      const record = buildRecord({
        id: p.buildId,
        app: p.app,
        description: r.description,
        entrypoint: shellJoin(entrypoint),
        gitSha: r.gitSha,
        logs: recordLogs,
        manifest: p.manifestText,
        release: releaseId,
        repository: p.registry,
        status: 'complete',
        started: s.started,
        ended: preciseNow(),
        secrets: recordSecrets(r.run.secrets, p)
      })
      const written = await writeExport(settings.export, record, exportSources(s, tools, built), {
        tempDir: r.run.tempDir,
        platforms: target.platforms,
        signal: r.run.signal
      })
      logger.info(`Exported build ${p.buildId} to ${written.path}`)
      return written.path
    })
  }
  if (rack && settings.promote) await promote(rack, settings.app, releaseId, logger)
  return { releaseId, services, exportPath }
}

/**
 * The finish stage of a fan-out: each service's <service>.<BUILD_ID> looked up in the
 * repository; an image service a leg did not copy is copied now; a missing build is an error
 * naming its services (its leg failed or was cancelled).
 */
async function gatherImages(
  r: Run,
  s: Started,
  tools: RegistryTools,
  copy: boolean
): Promise<ServiceReport[]> {
  const { plan: p } = s
  const reports = new Map<string, ServiceReport>()
  const missing: string[] = []
  await r.logger.group(`Images of build ${p.buildId}`, () =>
    forEachLimit(p.services, 8, async svc => {
      const found = await tools.client.findManifest(parseReference(svc.image))
      let digest = found?.digest ?? ''
      if (!found && svc.build === null && svc.from) {
        // Into a build failed already, nothing more is copied; it is no leg's image either.
        if (!copy) return
        r.logger.info(`[${svc.name}] copying ${svc.from} to ${svc.image}`)
        const copied = await tools.copyImage(
          svc.from,
          svc.image,
          r.run.signal ?? new AbortController().signal,
          s.target.platforms
        )
        digest = copied.digest
      } else if (!found) {
        missing.push(svc.name)
        return
      }
      r.logger.info(`[${svc.name}] ${svc.image} ${digest}`)
      reports.set(svc.name, {
        name: svc.name,
        image: svc.image,
        digest,
        build: svc.build,
        sharedWith: [],
        cachedSteps: 0,
        totalSteps: 0,
        durationMs: 0
      })
    })
  )
  if (missing.length > 0) {
    const names = p.services.map(x => x.name).filter(n => missing.includes(n))
    throw new UserError(
      `build ${p.buildId} has no image for ${names.join(', ')} in ${p.registry}: their build leg failed or was cancelled`
    )
  }
  return p.services.flatMap(x => reports.get(x.name) ?? [])
}

/** Every build's log, as the rack stores it (the user's arg values left out). */
function builtLogs(p: Plan, result: BuildPlanResult): string {
  return redactArgValues(
    p,
    result.builds.map(b => `==> ${b.services.join(', ')}\n${b.log.trimEnd()}\n`).join('')
  )
}

/** The logs the build legs stored on the rack, in the plan's build order. */
async function gatherLegLogs(rack: RackClient, s: Started): Promise<string> {
  const parts: string[] = []
  for (const b of s.plan.builds) {
    const first = b.services[0]
    if (!first) continue
    try {
      const text = (await rack.objectFetch(s.plan.app, legLogKey(s.plan.buildId, first))).toString()
      parts.push(`==> ${b.services.join(', ')}\n${text.trimEnd()}\n`)
    } catch {
      parts.push(`==> ${b.services.join(', ')}\n(no log stored by its build leg)\n`)
    }
  }
  return parts.join('')
}

/** Where the export reads each service's image from: the registry, or BuildKit's OCI archive. */
function exportSources(s: Started, tools: RegistryTools, built?: Built): ExportSource[] {
  const client = tools.client
  return s.plan.services.map((svc): ExportSource => {
    if (s.target.push) return { service: svc.name, client, image: parseReference(svc.image) }
    if (svc.build !== null) {
      return { service: svc.name, ociTar: built?.result.ociArchives[svc.build] ?? '' }
    }
    return { service: svc.name, client, image: parseReference(svc.from ?? '') }
  })
}

function resultOf(
  r: Run,
  s: Started,
  startedAt: number,
  built?: Built,
  finished?: Finished
): PipelineResult {
  const { plan: p } = s
  const services = finished?.services ?? built?.result.services ?? []
  const listed =
    r.settings.stage === 'build'
      ? p.services.filter(x => services.some(y => y.name === x.name))
      : p.services
  return {
    stage: r.settings.stage,
    plan: planOutput(p),
    buildId: p.buildId,
    releaseId: finished?.releaseId ?? '',
    images: Object.fromEntries(listed.map(x => [x.name, x.image])),
    digests: Object.fromEntries(services.filter(x => x.digest).map(x => [x.name, x.digest])),
    services,
    exportPath: finished?.exportPath ?? '',
    warnings: r.warnings,
    buildArgNames: [...new Set(p.builds.flatMap(b => b.args))].sort(),
    appEnvArgNames: [...new Set(p.builds.flatMap(b => b.appEnvArgs ?? []))].sort(),
    matrix: planMatrix(planOutput(p), r.settings.maxLegs),
    scope: r.scope,
    // The value without its label: the summary and --json label it.
    platforms: (r.platforms?.reason ?? '').replace(/^platforms:? /, ''),
    durationMs: Date.now() - startedAt
  }
}

async function importStage(r: Run, startedAt: number): Promise<PipelineResult> {
  const { settings, rack, logger } = r
  if (!rack) {
    throw new UserError({
      input: 'import',
      message: 'importing needs a rack: set rack-url (or RACK_URL), or convox-password and rack'
    })
  }
  const imported = await logger.group('Import', () =>
    runImport(rack, {
      app: settings.app,
      tarball: settings.import,
      logger,
      verifyImage: async image => {
        const client = new RegistryClient({
          credentials: host =>
            host === image.credentials.registry ? image.credentials : undefined,
          logger,
          signal: r.run.signal
        })
        await client.getManifest(parseReference(image.ref))
      }
    })
  )
  if (settings.promote) await promote(rack, settings.app, imported.releaseId, logger)
  return {
    stage: 'all',
    plan: {
      app: settings.app,
      buildId: imported.buildId,
      manifest: settings.manifest,
      gitSha: imported.build['git-sha'] ?? '',
      description: imported.build.description ?? '',
      development: settings.development,
      services: [],
      builds: []
    },
    buildId: imported.buildId,
    releaseId: imported.releaseId,
    images: imported.images,
    digests: {},
    services: [],
    exportPath: '',
    warnings: r.warnings,
    buildArgNames: [],
    appEnvArgNames: [],
    matrix: { include: [] },
    platforms: '',
    scope: '',
    durationMs: Date.now() - startedAt
  }
}

async function promote(
  rack: RackClient,
  app: string,
  releaseId: string,
  logger: Logger
): Promise<void> {
  await logger.group(`Promote ${releaseId}`, () => promoteRelease(rack, { app, releaseId, logger }))
}

/**
 * The secrets build.json must not hold. A value of the app's env that convox.yml itself spells
 * out is the repository's text, which the record keeps as the rack does (`manifest`).
 */
function recordSecrets(secrets: Redactor, p: Plan): Redactor {
  const envForms = new Redactor(
    p.builds.flatMap(b => (b.secretArgs ?? []).map(n => b.argValues[n] ?? ''))
  ).list()
  return new Redactor(
    secrets.list().filter(v => !(envForms.includes(v) && p.manifestText.includes(v)))
  )
}

/**
 * BuildKit names steps with build-arg values expanded; the stored log (rack, build.json) keeps
 * the user's own values out, as it keeps them out of the plan and the summary.
 */
function redactArgValues(p: Plan, text: string): string {
  const values = new Redactor()
  for (const b of p.builds) {
    for (const [name, value] of Object.entries(b.argValues)) {
      if (!isManagedArg(name) || name === 'BUILD_AUTH') values.add(value)
    }
  }
  return values.redact(text)
}
