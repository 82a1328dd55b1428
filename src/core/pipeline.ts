// The one entry point both shells call: plan, log in, build, export, and register on a rack.
import { isManagedArg } from './build-args.js'
import { loginsFromSettings } from './docker-config.js'
import { buildPlan, registryTools } from './engine/index.js'
import { BuildFailure } from './engine/run-build.js'
import { defaultDescription, readCiContext, unknownCommit } from './ci/context.js'
import { UserError } from './errors.js'
import { buildRecord, preciseNow } from './export/record.js'
import { writeExport, type ExportSource } from './export/tarball.js'
import { getImageConfig, shellJoin } from './registry/image-config.js'
import {
  RackClient,
  promoteRelease,
  rackClientOptions,
  runExternalBuild,
  runImport
} from './rack/index.js'
import { newReleaseId } from './ids.js'
import type { Logger } from './log.js'
import { createPlan, planLines, planOutput, type Plan, type PlanOutput } from './plan.js'
import { RegistryClient } from './registry/client.js'
import { parseReference } from './registry/reference.js'
import type { RunEnvironment, ServiceReport } from './run.js'
import { Redactor } from './secrets.js'
import { addSettingsSecrets, type Settings } from './settings.js'

export interface PipelineResult {
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
  durationMs: number
}

export async function runPipeline(
  settings: Settings,
  run: RunEnvironment
): Promise<PipelineResult> {
  const started = Date.now()
  const { logger, env } = run
  addSettingsSecrets(run.secrets, settings)
  const warnings: string[] = []
  const tracked: RunEnvironment = {
    ...run,
    logger: {
      ...logger,
      warning: (message, where) => {
        warnings.push(message)
        logger.warning(message, where)
      }
    }
  }
  const rackOptions = rackClientOptions(settings)
  const rack = rackOptions
    ? new RackClient({
        ...rackOptions,
        secrets: run.secrets,
        logger: tracked.logger,
        signal: run.signal
      })
    : undefined
  if (settings.import) {
    if (!rack) {
      throw new UserError({
        input: 'import',
        message: 'importing needs a rack: set rack-url (or RACK_URL), or convox-password and rack'
      })
    }
    return importPipeline(settings, tracked, rack, warnings, started)
  }

  // Manifest problems are reported before a missing commit: they are what users fix first.
  const ci = await readCiContext({
    env,
    cwd: settings.workingDirectory,
    exec: run.exec,
    gitSha: settings.gitSha
  })
  tracked.ci = ci
  const gitSha = ci.commit
  let gitProblem: UserError | undefined
  if (!gitSha) {
    const unknown = unknownCommit(ci, settings.buildArgs, settings.workingDirectory)
    if ('problem' in unknown) gitProblem = new UserError(unknown.problem)
    else tracked.logger.warning(unknown.warning)
  }
  const description = settings.description || defaultDescription(ci)
  const planFor = (
    s: Settings,
    ids: { buildId?: string; rackName?: string } = {},
    planLogger: Logger = tracked.logger
  ) => createPlan(s, { env, gitSha, description, ...ids }, planLogger)

  // The whole manifest is checked before anything is created on a rack.
  let plan = await logger.group('Plan', async () => {
    const planned = await planFor(settings)
    for (const line of planLines(planned)) logger.info(line)
    return planned
  })
  if (gitProblem) throw gitProblem
  const result = (extra: Partial<PipelineResult> = {}): PipelineResult => ({
    plan: planOutput(plan),
    buildId: plan.buildId,
    releaseId: '',
    images: Object.fromEntries(plan.services.map(s => [s.name, s.image])),
    digests: {},
    services: [],
    exportPath: '',
    warnings,
    buildArgNames: [...new Set(plan.builds.flatMap(b => b.args))].sort(),
    ...extra,
    durationMs: Date.now() - started
  })
  if (settings.dryRun) return result()

  const buildStarted = preciseNow()
  let built: BuiltImages
  let releaseId: string
  let rackLogs = ''
  if (rack) {
    const external = await runExternalBuild(
      rack,
      {
        app: settings.app,
        manifest: settings.manifest,
        manifestText: plan.manifestText,
        description,
        gitSha,
        development: settings.development,
        noCache: settings.noCache,
        logger: tracked.logger
      },
      async ctx => {
        // The rack's repository unless the user pushes elsewhere; its build id is BUILD_ID.
        const target: Settings = settings.registry
          ? settings
          : {
              ...settings,
              registry: ctx.repository,
              registryUsername: ctx.credentials.username,
              registryPassword: ctx.credentials.password,
              push: true
            }
        // Planned again with the rack's ids; its warnings were all given the first time.
        plan = await planFor(
          target,
          { buildId: ctx.buildId, rackName: ctx.rackName },
          { ...logger, warning: () => undefined }
        )
        try {
          built = await buildImages(plan, target, tracked)
        } catch (e) {
          // The rack keeps a failed build's output, then its ERROR line.
          if (e instanceof BuildFailure) ctx.log(redactArgValues(plan, e.log))
          throw e
        }
        return { images: built.images, entrypoint: built.entrypoint, logs: built.logs }
      }
    )
    releaseId = external.releaseId
    rackLogs = external.build.logs ?? ''
  } else {
    built = await buildImages(plan, settings, tracked)
    releaseId = newReleaseId()
  }
  built = built!

  let exportPath = ''
  if (settings.export) {
    exportPath = await logger.group('Export', async () => {
      const record = buildRecord({
        id: plan.buildId,
        app: plan.app,
        description,
        entrypoint: shellJoin(built.entrypoint),
        gitSha,
        logs: rackLogs || built.logs,
        manifest: plan.manifestText,
        release: releaseId,
        repository: plan.registry,
        status: 'complete',
        started: buildStarted,
        ended: preciseNow(),
        secrets: run.secrets
      })
      const written = await writeExport(settings.export, record, built.exportSources, {
        tempDir: run.tempDir,
        platform: settings.platforms[0],
        signal: run.signal
      })
      logger.info(`Exported build ${plan.buildId} to ${written.path}`)
      return written.path
    })
  }
  if (rack && settings.promote) await promote(rack, settings, releaseId, tracked.logger)

  return result({
    releaseId,
    images: built.images,
    digests: Object.fromEntries(built.services.filter(s => s.digest).map(s => [s.name, s.digest])),
    services: built.services,
    exportPath
  })
}

async function importPipeline(
  settings: Settings,
  run: RunEnvironment,
  rack: RackClient,
  warnings: string[],
  started: number
): Promise<PipelineResult> {
  const { logger } = run
  const imported = await logger.group('Import', () =>
    runImport(rack, {
      app: settings.app,
      tarball: settings.import,
      logger,
      verifyImage: async image => {
        const client = new RegistryClient({
          credentials: host =>
            host === image.credentials.registry ? image.credentials : undefined,
          logger
        })
        await client.getManifest(parseReference(image.ref))
      }
    })
  )
  if (settings.promote) await promote(rack, settings, imported.releaseId, logger)
  return {
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
    warnings,
    buildArgNames: [],
    durationMs: Date.now() - started
  }
}

async function promote(
  rack: RackClient,
  settings: Settings,
  releaseId: string,
  logger: Logger
): Promise<void> {
  await logger.group(`Promote ${releaseId}`, () =>
    promoteRelease(rack, { app: settings.app, releaseId, logger })
  )
}

interface BuiltImages {
  images: Record<string, string>
  services: ServiceReport[]
  /** The first service's entrypoint (the rack stores it on the build). */
  entrypoint: string[]
  /** Every build's log, as the rack would store it. */
  logs: string
  /** Where the export reads each service's image from. */
  exportSources: ExportSource[]
}

/** Builds and pushes every image of the plan; then what the record and the export need. */
async function buildImages(
  plan: Plan,
  settings: Settings,
  run: RunEnvironment
): Promise<BuiltImages> {
  const tools = registryTools(
    loginsFromSettings(settings),
    settings.dockerHubRegistry,
    run.logger,
    run.signal
  )
  const builds = await buildPlan(plan, settings, run, {
    tools,
    ociArchives: !settings.push && settings.export !== ''
  })
  const registry = tools.client
  const first = plan.services[0]
  const entrypoint =
    settings.push && first
      ? (await getImageConfig(registry, parseReference(first.image), settings.platforms[0]))
          .entrypoint
      : []
  const exportSources = plan.services.map((s): ExportSource => {
    if (settings.push) return { service: s.name, client: registry, image: parseReference(s.image) }
    if (s.build !== null) return { service: s.name, ociTar: builds.ociArchives[s.build] ?? '' }
    return { service: s.name, client: registry, image: parseReference(s.from ?? '') }
  })
  return {
    images: Object.fromEntries(plan.services.map(s => [s.name, s.image])),
    services: builds.services,
    entrypoint,
    logs: redactArgValues(
      plan,
      builds.builds.map(b => `==> ${b.services.join(', ')}\n${b.log.trimEnd()}\n`).join('')
    ),
    exportSources
  }
}

/**
 * BuildKit names steps with build-arg values expanded; the stored log (rack, build.json) keeps
 * the user's own values out, as it keeps them out of the plan and the summary.
 */
function redactArgValues(plan: Plan, text: string): string {
  const values = new Redactor()
  for (const b of plan.builds) {
    for (const [name, value] of Object.entries(b.argValues)) {
      if (!isManagedArg(name) || name === 'BUILD_AUTH') values.add(value)
    }
  }
  return values.redact(text)
}
