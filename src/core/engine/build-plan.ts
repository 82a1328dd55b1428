// What the pipeline's build step asks of the engine: private logins, engine choice, builds,
// cleanup.
import type { KeyObject } from 'node:crypto'
import type { KeylessChecker } from '../signing/cosign-tags.js'
import { reuseTrustedKeys } from '../signing/key.js'
import {
  createDockerConfig,
  loginsFromSettings,
  type LoginSettings,
  type RegistryLogin
} from '../docker-config.js'
import { SECRET_ARGS } from '../build-auth.js'
import type { Plan } from '../plan.js'
import type { RunEnvironment } from '../run-environment.js'
import type { Settings } from '../settings.js'
import { gitKnownBlobs } from '../reuse/context.js'
import { parseReference } from '../registry/reference.js'
import { Reuse } from '../reuse/index.js'
import type { CopyImage } from './image-copies.js'
import { legBuilds, runBuilds, type BuildsResult } from './scheduler.js'
import { registryTools, type RegistryTools } from './registry-copy.js'
import { writeBuildkitTls } from './buildkit-tls.js'
import { selectEngine } from './select.js'
import type { Engine } from './types.js'

export type EngineSettings = LoginSettings &
  Pick<
    Settings,
    | 'push'
    | 'cache'
    | 'noCache'
    | 'engine'
    | 'builder'
    | 'buildkitHost'
    | 'platforms'
    | 'concurrency'
    | 'reuse'
  > &
  /** Default auto; no TLS. */
  Partial<Pick<Settings, 'cacheTags' | 'buildkitTls' | 'buildChecks'>> &
  /** The keys reuse trusts (none: reuse is not verified). */
  Partial<Pick<Settings, 'sign' | 'signingKey' | 'signingKeyPassword' | 'reuseTrust'>>

export interface BuildPlanOptions {
  /** Registry-to-registry copy for image services (default: the registry client). */
  copyImage?: CopyImage
  /** Checks a login before building (default: the registry client; one line on 401). */
  checkLogin?: (login: RegistryLogin) => Promise<void>
  /** Registry client and tools to use (default: made from the settings' logins). */
  tools?: RegistryTools
  /** When not pushing, write BuildKit's OCI archives (for the export). */
  ociArchives?: boolean
  /** The services to build or copy (a fan-out leg's); undefined: all. */
  only?: string[]
  /**
   * The app's latest completed build on the rack, when there is one: unless cache-tags is
   * `mutable`, its `<service>.buildcache.<id>` is read when it exists, else
   * `<service>.buildcache` (immutable tags, as a rack with ecr_immutable_tags_enabled does).
   * May be a promise: the rack is asked while the keys are made and the engine is prepared.
   */
  previousBuildId?: string | Promise<string | undefined>
  /** The keys reuse trusts, read once by the caller (undefined: not verified); default: the settings'. */
  trustedKeys?: KeyObject[]
  /** Checks keyless signatures for reuse (src/core/signing/keyless-trust.ts); none: keys only. */
  keylessTrust?: KeylessChecker
  signal?: AbortSignal
}

export interface BuildPlanResult extends BuildsResult {
  engine: Engine
}

/** What builds need that no plan decides: the logins checked, the engine chosen. */
export interface PreparedEngine {
  engine: Engine
  /** DOCKER_CONFIG / BUILDX_CONFIG of the private docker config, for the engine's processes. */
  childEnv: Record<string, string>
  /** Removes the private docker config. */
  dispose(): Promise<void>
}

/** An engine being prepared: what is at hand at once, and what comes when it is ready. */
export interface EnginePreparation {
  /** The registry client of the run (its logins, the challenges the checks learn). */
  tools: RegistryTools
  /** Git's index of the working directory, read once for the reuse keys of every build. */
  gitIndex?: { root: string; blobs: Promise<Map<string, string>> }
  ready: Promise<PreparedEngine>
}

export type PrepareOptions = Pick<BuildPlanOptions, 'checkLogin' | 'tools'> & {
  /** The working directory, whose git index reuse reads. */
  workingDirectory?: string
}

/**
 * Starts what no plan decides: the private docker config with the logins, each login checked
 * (a wrong password is one line naming the registry, before any build), the engine chosen and
 * git's index read, all at once. The pipeline starts it while it reads the commit and the
 * manifest. Whoever starts it disposes of `ready`.
 */
export function prepareEngine(
  settings: EngineSettings,
  run: RunEnvironment,
  options: PrepareOptions = {}
): EnginePreparation {
  const logins = loginsFromSettings(settings)
  const tools =
    options.tools ?? registryTools(logins, settings.dockerHubRegistry, run.logger, run.signal)
  const checkLogin = options.checkLogin ?? tools.checkLogin
  // The probe and the login checks first, not after the private docker config is written: the
  // probe needs no login, and the user's config answers it as the private one would (same
  // plugins, context and builders).
  // buildctl's TLS files first: the probe uses them.
  const tls = writeBuildkitTls(settings.buildkitTls, run.tempDir, settings.buildkitHost)
  const engine = tls.then(t =>
    selectEngine({
      engine: settings.engine,
      builder: settings.builder,
      buildkitHost: settings.buildkitHost,
      buildkitTls: t.flags,
      exec: run.exec,
      env: run.env,
      signal: run.signal
    })
  )
  const reuses = settings.reuse && !settings.noCache && settings.push
  const gitIndex =
    reuses && options.workingDirectory
      ? {
          root: options.workingDirectory,
          blobs: gitKnownBlobs(options.workingDirectory, run.exec, run.env, run.signal)
        }
      : undefined
  // It masks the passwords before any login is checked.
  const config = createDockerConfig(logins, run)
  const loggedIn = Promise.all(logins.map(l => checkLogin(l)))
  for (const p of [engine, gitIndex?.blobs, loggedIn]) p?.catch(() => undefined)
  const ready = (async (): Promise<PreparedEngine> => {
    const written = await config
    const tlsFiles = await tls.catch(() => undefined)
    const dispose = async () => {
      await Promise.all([written.cleanup(), tlsFiles?.cleanup()])
    }
    try {
      const [probed] = await Promise.all([engine, loggedIn])
      return { engine: probed, childEnv: written.env, dispose }
    } catch (e) {
      await dispose()
      throw e
    }
  })()
  // Awaited by buildPlan; a failure is reported there, after the manifest's problems.
  ready.catch(() => undefined)
  return { tools, gitIndex, ready }
}

/**
 * Builds a plan. With a `preparation` its engine and registry tools are used: `tools` and
 * `checkLogin` only serve the preparation buildPlan makes itself.
 */
export async function buildPlan(
  plan: Plan,
  settings: EngineSettings,
  run: RunEnvironment,
  options: BuildPlanOptions & { preparation?: EnginePreparation } = {}
): Promise<BuildPlanResult> {
  const own = !options.preparation
  const preparation =
    options.preparation ??
    prepareEngine(settings, run, { ...options, workingDirectory: plan.workingDirectory })
  const { tools } = preparation
  // Content keys are made and looked up while the logins and the engine are checked: only the
  // builder's platform, last in the key, waits for the engine's probe.
  const reuse =
    settings.reuse && !settings.noCache && settings.push
      ? new Reuse({
          client: tools.client,
          platforms: settings.platforms,
          secretIds: plan.secrets.map(s => s.id),
          secretArgs: SECRET_ARGS,
          exec: run.exec,
          env: run.env,
          index: preparation.gitIndex,
          builderPlatforms: preparation.ready.then(p => p.engine.platforms),
          scope: Promise.resolve(run.ci).then(ci => ci?.scope),
          trustedKeys: 'trustedKeys' in options ? options.trustedKeys : reuseTrustedKeys(settings),
          keyless: options.keylessTrust
        })
      : undefined
  if (reuse && plan.registry) {
    for (const { spec } of legBuilds(plan, options.only)) void reuse.lookup(spec, plan.registry)
  }
  try {
    // Its failure first, as when it was looked up before the build.
    const previousBuildId = await options.previousBuildId
    const { engine, childEnv } = await preparation.ready
    run.logger.info(`engine: ${engine.description}`)
    const result = await runBuilds({
      plan,
      engine,
      run,
      childEnv,
      cache: settings.cache,
      cacheTags: settings.cacheTags,
      previousBuildId,
      hasManifest: async ref =>
        (await tools.client.findManifest(parseReference(ref))) !== undefined,
      noCache: settings.noCache,
      buildChecks: settings.buildChecks,
      push: settings.push,
      platforms: settings.platforms,
      concurrency: settings.concurrency,
      copyImage: options.copyImage ?? tools.copyImage,
      dockerHubRegistry: settings.dockerHubRegistry,
      reuse,
      secretArgs: SECRET_ARGS,
      ociArchives: options.ociArchives,
      only: options.only,
      signal: options.signal ?? run.signal
    })
    return { ...result, engine }
  } finally {
    if (own) await (await preparation.ready.catch(() => undefined))?.dispose()
  }
}
