// The external build's pieces composed as one call (create, build, complete; failed on any
// error), as the pipeline runs them in one process: for tests of the rack calls.
import {
  completeExternalBuild,
  createExternalBuild,
  failBuildOnError,
  type CreatedExternalBuild,
  type ExternalBuildOptions
} from '../../src/core/rack/external-build.js'
import type { RackClient } from '../../src/core/rack/client.js'
import type { RackBuild } from '../../src/core/rack/types.js'

/** What the build callback of runExternalBuild gets. */
export interface ExternalBuildContext extends CreatedExternalBuild {
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
  const { app } = options
  const created = await createExternalBuild(client, options)
  const { buildId } = created
  let log = ''
  const append = (text: string): void => {
    log += text.endsWith('\n') || text === '' ? text : `${text}\n`
  }
  const out = await failBuildOnError(client, { app, buildId, log: () => log }, async () => {
    const built = await build({ ...created, log: append })
    // cancelled while building: nothing more is made
    client.signal?.throwIfAborted()
    return built
  })
  if (out.logs) append(out.logs)
  const done = await completeExternalBuild(client, {
    app,
    buildId,
    logs: log,
    entrypoint: out.entrypoint
  })
  return {
    buildId,
    releaseId: done.releaseId,
    repository: created.repository,
    rackName: created.rackName,
    images: out.images ?? {},
    build: done.build
  }
}
