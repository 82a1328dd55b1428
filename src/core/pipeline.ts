// The one entry point both shells call: plan, log in, build, export, and register on a rack.
import {
  createDockerConfig,
  DOCKER_HUB_AUTH_KEY,
  loginsFromSettings,
  type RegistryLogin
} from './docker-config.js'
import { UserError } from './errors.js'
import type { Exec } from './exec.js'
import { runBuilds, type BuildsResult } from './engine/scheduler.js'
import { selectEngine } from './engine/select.js'
import { defaultDescription, resolveGitSha } from './git.js'
import { newReleaseId } from './ids.js'
import type { Logger } from './log.js'
import { createPlan, planOutput, type Plan, type PlanOutput } from './plan.js'
import { RegistryClient } from './registry/client.js'
import { copyImage } from './registry/copy.js'
import { parseReference } from './registry/reference.js'
import { settingsSecrets, type Settings } from './settings.js'

/** What the shell knows about where it runs. */
export interface RunEnvironment {
  env: NodeJS.ProcessEnv
  logger: Logger
  exec: Exec
  /** True inside a GitHub Actions job (cache `auto` picks gha there). */
  github: boolean
  /** Directory for this run's temporary files (private docker config, metadata files). */
  tempDir: string
  /** Directory BuildKit's `local` cache is read from and written to (the action restores and saves it). */
  localCacheDir: string
}

/** Per-service result, for outputs and the job summary. */
export interface ServiceReport {
  name: string
  image: string
  /** Pushed manifest digest `sha256:...`; '' when not pushed. */
  digest: string
  /** Index of the build in plan.builds; null for image services. */
  build: number | null
  /** Other services that share this service's build. */
  sharedWith: string[]
  cachedSteps: number
  totalSteps: number
  durationMs: number
}

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
  for (const secret of settingsSecrets(settings)) logger.mask(secret)
  const warnings: string[] = []
  const tracked: Logger = {
    ...logger,
    warning: (message, where) => {
      warnings.push(message)
      logger.warning(message, where)
    }
  }
  const trackedRun: RunEnvironment = { ...run, logger: tracked }

  const gitSha = await resolveGitSha(env, settings.workingDirectory, run.exec)
  const description =
    settings.description ||
    (await defaultDescription(gitSha, env, settings.workingDirectory, run.exec))

  const plan = await logger.group('Plan', () =>
    createPlan(settings, { env, gitSha, description }, tracked)
  )
  const result = (): PipelineResult => ({
    plan: planOutput(plan),
    buildId: plan.buildId,
    releaseId: '',
    images: Object.fromEntries(plan.services.map(s => [s.name, s.image])),
    digests: {},
    services: [],
    exportPath: '',
    warnings,
    buildArgNames: [...new Set(plan.builds.flatMap(b => b.args))].sort(),
    durationMs: Date.now() - started
  })
  if (settings.dryRun) return result()

  const built = await buildPlan(plan, settings, trackedRun)
  return {
    ...result(),
    releaseId: newReleaseId(),
    digests: Object.fromEntries(built.services.filter(s => s.digest).map(s => [s.name, s.digest])),
    services: built.services,
    durationMs: Date.now() - started
  }
}

/** Logs in (private docker config), picks the engine and runs every build of the plan. */
async function buildPlan(
  plan: Plan,
  settings: Settings,
  run: RunEnvironment
): Promise<BuildsResult> {
  const { logger } = run
  const logins = loginsFromSettings(settings)
  const registry = registryClient(settings, logins, logger)
  await logger.group('Log in', async () => {
    for (const login of logins) {
      await registry.checkLogin(apiHost(login.host), login)
      logger.info(`Logged in to ${login.host} as ${login.username}`)
    }
  })
  const dockerConfig = await createDockerConfig(logins, run)
  try {
    const childEnv = { ...run.env, ...dockerConfig.env }
    const engine = await selectEngine({
      engine: settings.engine,
      builder: settings.builder,
      buildkitHost: settings.buildkitHost,
      exec: run.exec,
      env: childEnv
    })
    logger.info(`Building with ${engine.description}`)
    return await runBuilds({
      plan,
      engine,
      run,
      childEnv: dockerConfig.env,
      cache: settings.cache,
      noCache: settings.noCache,
      push: settings.push,
      platforms: settings.platforms,
      secrets: settings.secrets,
      concurrency: settings.concurrency,
      ociArchives: !settings.push && settings.export !== '',
      copyImage: async (from, to) =>
        (await copyImage(registry, parseReference(from), parseReference(to), { logger })).digest,
      dockerHubRegistry: settings.dockerHubRegistry
    })
  } finally {
    await dockerConfig.cleanup()
  }
}

/** The host the registry API answers on for a docker config auths key. */
function apiHost(authKey: string): string {
  return authKey === DOCKER_HUB_AUTH_KEY ? 'registry-1.docker.io' : authKey
}

function registryClient(
  settings: Settings,
  logins: RegistryLogin[],
  logger: Logger
): RegistryClient {
  const byHost = new Map(
    logins.map(l => [apiHost(l.host), { username: l.username, password: l.password }])
  )
  return new RegistryClient({
    credentials: host => byHost.get(host),
    dockerHubRegistry: settings.dockerHubRegistry,
    logger
  })
}
