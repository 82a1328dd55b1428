// `convox build --external` done right (convox/convox pkg/cli/builds.go buildExternal, with the
// bookkeeping of pkg/build/build.go success/fail): the rack records the build, we build and push.
// In pieces for a fan-out (create on one machine, build legs on others, complete on a third).
// Whatever the rack answers, a run makes at most one build and one release, and a build it made
// ends `complete` or `failed`.
import { RemoteError, UserError } from '../errors.js'
import { shellJoin } from '../registry/image-config.js'
import { CLEANUP_CALL, type RackClient, rackRepository, repositoryTarget } from './client.js'
import type { RackBuild, RackSystem } from './types.js'

export interface ExternalBuildOptions {
  app: string
  /** The manifest file name as given (BuildCreate `manifest`, BUILD_MANIFEST); default convox.yml. */
  manifest?: string
  /** The raw, uninterpolated manifest text (stored on the build). */
  manifestText: string
  description: string
  gitSha: string
  development: boolean
  noCache?: boolean
}

/** Where a build leg pushes: `<repository>:<service>.<buildId>`. */
export interface ExternalBuildTarget {
  /** Push target without credentials, `host/path`. */
  repository: string
  /** Credentials of `repository` (masked already). */
  credentials: { registry: string; username: string; password: string }
}

/** What createExternalBuild made: everything a build needs to build and push into the rack. */
export interface CreatedExternalBuild extends ExternalBuildTarget {
  /** The rack's build id: BUILD_ID. */
  buildId: string
  /** SystemGet's name: BUILD_RACK. */
  rackName: string
  /** The build record as BuildCreate returned it (repository holds the password: never print). */
  build: RackBuild
}

/**
 * BuildCreate (external=true), then BuildUpdate with the manifest and status `running`, as the
 * rack's own builds are while they build (provider/k8s/build.go BuildCreate). Exactly once: a
 * lost BuildCreate answer is looked up before creating again (RackClient.buildCreate).
 */
export async function createExternalBuild(
  client: RackClient,
  options: ExternalBuildOptions
): Promise<CreatedExternalBuild> {
  const { app } = options
  const system = await client.systemGet()
  const build = await client.buildCreate(app, {
    external: true,
    description: options.description,
    'git-sha': options.gitSha,
    manifest: options.manifest ?? 'convox.yml',
    development: options.development,
    'no-cache': options.noCache
  })
  const buildId = build.id
  client.logger.info(`rack ${client.host}: build ${buildId} created on rack ${system.name}`)
  return failBuildOnError(client, { app, buildId }, async () => {
    // A build found by looking up a lost answer comes from BuildList, which has no push target.
    const target = build.repository
      ? fromRepository(build.repository, client)
      : targetOf(client, system, app)
    await client.buildUpdate(app, buildId, { manifest: options.manifestText, status: 'running' })
    return { buildId, rackName: system.name, build, ...target }
  })
}

/**
 * The rack's own push target for a build leg that did not create the build, derived as the rack
 * derives it (provider/k8s/build.go BuildCreate): the API host, the provider's repository prefix,
 * the app, with the rack password. Console mode has no rack password to push with.
 */
export async function externalBuildTarget(
  client: RackClient,
  app: string
): Promise<ExternalBuildTarget> {
  if (client.mode === 'console') {
    throw new UserError({
      input: 'registry',
      message:
        "in Console mode (convox-password) a build leg cannot push to the rack's registry, which needs the rack password: set registry and its credentials"
    })
  }
  return targetOf(client, await client.systemGet(), app)
}

/**
 * Stores the log, creates exactly one release for the build and marks it `complete`. A build
 * already complete with a release is returned as it is, and a release the rack already holds
 * for the build is used (a finish stage run again). On any failure the build is marked failed.
 */
export async function completeExternalBuild(
  client: RackClient,
  options: {
    app: string
    buildId: string
    logs: string
    entrypoint?: string[] | string
    /** The release's env (`KEY=VALUE` lines) instead of the newest release's: a review app's. */
    env?: string
  }
): Promise<{ releaseId: string; build: RackBuild }> {
  const { app, buildId } = options
  const failing = { app, buildId, log: options.logs }
  const current = await failBuildOnError(client, failing, () => client.buildGet(app, buildId))
  if (current.status === 'complete' && current.release) {
    client.logger.info(
      `rack ${client.host}: build ${buildId} is already complete, release ${current.release}`
    )
    return { releaseId: current.release, build: current }
  }
  if (current.status !== 'created' && current.status !== 'running') {
    throw new RemoteError(
      `rack ${client.host}: build ${buildId} is ${current.status || 'without a status'}: not releasing it`
    )
  }
  return failBuildOnError(client, failing, async () => {
    const logs = await client.objectStore(app, `build/${buildId}/logs`, client.scrub(options.logs))
    const existing = await client.findRelease(app, buildId)
    // exactly one release (the CLI's buildExternal makes a second one by mistake)
    const release =
      existing ?? (await client.releaseCreate(app, { build: buildId, env: options.env }))
    const entrypoint = Array.isArray(options.entrypoint)
      ? shellJoin(options.entrypoint)
      : (options.entrypoint ?? '')
    const build = await client.buildUpdate(app, buildId, {
      logs: logs.Url,
      release: release.id,
      status: 'complete',
      ended: new Date(),
      entrypoint: entrypoint || undefined
    })
    client.logger.info(`rack ${client.host}: build ${buildId} complete, release ${release.id}`)
    return { releaseId: release.id, build }
  })
}

/** The build failBuildOnError fails, and what it stores before the reason. */
export interface FailingBuild {
  app: string
  buildId: string
  /** The log stored before `ERROR: <reason>` ('' by default), or how the error gives it. */
  log?: string | ((e: unknown) => string)
  /**
   * Asked first, with the error and its log: false leaves the build as it is (a build another
   * leg failed already keeps that failure's log).
   */
  before?: (e: unknown, log: string) => Promise<boolean>
}

/** Runs `work`; when it throws, the rack's build is failed with the reason and the error rethrown. */
export async function failBuildOnError<T>(
  client: RackClient,
  build: FailingBuild,
  work: () => Promise<T>
): Promise<T> {
  try {
    return await work()
  } catch (e) {
    const log = typeof build.log === 'function' ? build.log(e) : (build.log ?? '')
    if (!build.before || (await build.before(e, log))) {
      const { app, buildId } = build
      await failExternalBuild(client, { app, buildId, reason: failureReason(client, e), log })
    }
    throw e
  }
}

/**
 * pkg/build/build.go fail: the log ends with `ERROR: <reason>`, is stored, the build is failed.
 * Runs after a cancel too (its own short bound, not the run's signal); never throws: warns.
 */
export async function failExternalBuild(
  client: RackClient,
  options: { app: string; buildId: string; reason: string; log: string }
): Promise<void> {
  const { app, buildId, log } = options
  const reason = client.scrub(options.reason)
  const text = client.scrub(`${log}${log && !log.endsWith('\n') ? '\n' : ''}ERROR: ${reason}\n`)
  let logsUrl: string | undefined
  try {
    logsUrl = (await client.objectStore(app, `build/${buildId}/logs`, text, {}, CLEANUP_CALL)).Url
  } catch (e) {
    client.logger.warning(
      `rack ${client.host}: could not store the log of failed build ${buildId}: ${message(e)}`
    )
  }
  try {
    // BuildUpdate has no `reason` (the log has it); sent for a rack that learns it.
    await client.buildUpdate(
      app,
      buildId,
      { status: 'failed', reason, ended: new Date(), logs: logsUrl },
      CLEANUP_CALL
    )
    client.logger.info(`rack ${client.host}: build ${buildId} marked failed`)
  } catch (e) {
    client.logger.warning(
      `rack ${client.host}: could not mark build ${buildId} failed: ${message(e)}`
    )
  }
}

function targetOf(client: RackClient, system: RackSystem, app: string): ExternalBuildTarget {
  const repository = rackRepository(client, system, app)
  return {
    repository,
    credentials: { registry: repository.split('/')[0] ?? '', ...client.credentials }
  }
}

function fromRepository(repositoryUrl: string, client: RackClient): ExternalBuildTarget {
  const t = repositoryTarget(repositoryUrl, [client.credentials])
  return {
    repository: t.repository,
    credentials: { registry: t.host, username: t.username, password: t.password }
  }
}

/** The failure as one line (a stored log's last); `cancelled ...` when the run was cancelled. */
export function failureReason(client: RackClient, e: unknown): string {
  const signal = client.signal
  if (signal?.aborted) {
    const why = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? '')
    return /cancel/i.test(why) ? why : `cancelled${why ? ` (${why})` : ''}`
  }
  const lines = message(e)
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean)
  return (lines.join(' | ') || 'build failed').slice(0, 1000)
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
