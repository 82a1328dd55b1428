// `convox build --external` done right (convox/convox pkg/cli/builds.go buildExternal, with the
// bookkeeping of pkg/build/build.go success/fail): the rack records the build, we build and push.
import type { Logger } from '../log.js'
import { shellJoin } from '../registry/image-config.js'
import { type RackClient, repositoryTarget } from './client.js'
import type { RackBuild } from './types.js'

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
  logger: Logger
}

/** What the build callback gets: everything it needs to build and push into the rack. */
export interface ExternalBuildContext {
  /** The rack's build id: BUILD_ID. */
  buildId: string
  /** SystemGet's name: BUILD_RACK. */
  rackName: string
  /** Push target without credentials, `host/path`: images are `<repository>:<service>.<buildId>`. */
  repository: string
  /** Credentials of `repository` (masked already). */
  credentials: { registry: string; username: string; password: string }
  /** The build record as BuildCreate returned it (repository holds the password: never print). */
  build: RackBuild
  /** Appends to the build log stored on the rack (also on failure). */
  log: (text: string) => void
}

export interface ExternalBuildOutput {
  /** Service name to pushed image reference. */
  images?: Record<string, string>
  /** The image's entrypoint: a list (shell-quoted like the rack) or already joined. */
  entrypoint?: string[] | string
  /** Build log text to store (appended after anything given to ctx.log). */
  logs?: string
}

export interface ExternalBuildResult {
  buildId: string
  releaseId: string
  /** Push target without credentials. */
  repository: string
  rackName: string
  images: Record<string, string>
  build: RackBuild
}

export type ExternalBuilder = (ctx: ExternalBuildContext) => Promise<ExternalBuildOutput>

export async function runExternalBuild(
  client: RackClient,
  options: ExternalBuildOptions,
  build: ExternalBuilder
): Promise<ExternalBuildResult> {
  const { app, logger } = options
  const system = await client.systemGet()
  const created = await client.buildCreate(app, {
    external: true,
    description: options.description,
    'git-sha': options.gitSha,
    manifest: options.manifest ?? 'convox.yml',
    development: options.development,
    'no-cache': options.noCache
  })
  const buildId = created.id
  logger.info(`rack ${client.host}: build ${buildId} created on rack ${system.name}`)
  const target = repositoryTarget(created.repository)
  let log = ''
  const append = (text: string): void => {
    log += text.endsWith('\n') || text === '' ? text : `${text}\n`
  }

  try {
    // The rack's own builds are `running` while they build (provider/k8s/build.go BuildCreate).
    await client.buildUpdate(app, buildId, { manifest: options.manifestText, status: 'running' })
    const out = await build({
      buildId,
      rackName: system.name,
      repository: target.repository,
      credentials: { registry: target.host, username: target.username, password: target.password },
      build: created,
      log: append
    })
    if (out.logs) append(out.logs)
    const logs = await client.objectStore(app, `build/${buildId}/logs`, client.scrub(log))
    // exactly one release (the CLI's buildExternal makes a second one by mistake)
    const release = await client.releaseCreate(app, { build: buildId })
    const entrypoint = Array.isArray(out.entrypoint)
      ? shellJoin(out.entrypoint)
      : (out.entrypoint ?? '')
    const done = await client.buildUpdate(app, buildId, {
      logs: logs.Url,
      release: release.id,
      status: 'complete',
      ended: new Date(),
      entrypoint: entrypoint || undefined
    })
    logger.info(`rack ${client.host}: build ${buildId} complete, release ${release.id}`)
    return {
      buildId,
      releaseId: release.id,
      repository: target.repository,
      rackName: system.name,
      images: out.images ?? {},
      build: done
    }
  } catch (e) {
    const reason = client.scrub(oneLine(e instanceof Error ? e.message : String(e)))
    await markFailed(client, app, buildId, reason, log, logger)
    throw e
  }
}

/** pkg/build/build.go fail: the log ends with `ERROR: <reason>`, is stored, the build is failed. */
async function markFailed(
  client: RackClient,
  app: string,
  buildId: string,
  reason: string,
  log: string,
  logger: Logger
): Promise<void> {
  const text = client.scrub(`${log}${log && !log.endsWith('\n') ? '\n' : ''}ERROR: ${reason}\n`)
  let logsUrl: string | undefined
  try {
    logsUrl = (await client.objectStore(app, `build/${buildId}/logs`, text)).Url
  } catch (e) {
    logger.warning(
      `rack ${client.host}: could not store the log of failed build ${buildId}: ${msg(e)}`
    )
  }
  try {
    await client.buildUpdate(app, buildId, {
      status: 'failed',
      reason,
      ended: new Date(),
      logs: logsUrl
    })
    logger.info(`rack ${client.host}: build ${buildId} marked failed`)
  } catch (e) {
    logger.warning(`rack ${client.host}: could not mark build ${buildId} failed: ${msg(e)}`)
  }
}

function oneLine(text: string): string {
  const lines = text
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean)
  return (lines.join(' | ') || 'build failed').slice(0, 1000)
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
