// runPipeline: which stages this run is, from its settings, as a fan-out runs them on separate
// machines (start; build legs; finish), or `all` in one process. Between machines only the
// build id and the registry's contents travel: each stage plans again from the same checkout
// and settings. A build this run registered on the rack ends failed on any error before the
// rack takes it over.
import { BuildFailure } from '../engine/run-build.js'
import { CLEANUP_CALL, failBuildOnError, type FailingBuild } from '../rack/index.js'
import type { RunEnvironment } from '../run-environment.js'
import type { Settings } from '../settings.js'
import { build, legPlatform, legServices } from './build.js'
import { buildFirstService, legLogKey, redactArgValues } from './build-logs.js'
import { finish } from './finish.js'
import { importStage } from './import.js'
import { prepare } from './prepare.js'
import { resultOf } from './result.js'
import { resume } from './resume.js'
import { reviewStep } from './review.js'
import { start } from './start.js'
import type { PipelineResult, Run, Started } from './state.js'

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
  const nothing = await reviewStep(r, startedAt)
  if (nothing) return nothing
  const { settings } = r
  if (settings.import) return importStage(r, startedAt)
  const s =
    settings.stage === 'build' || settings.stage === 'finish' ? await resume(r) : await start(r)
  // Said once the plan stands: a manifest's problems are the only lines of a failed plan.
  r.logger.info(r.scope)
  if (settings.stage === 'start' || settings.dryRun) return resultOf(r, s, startedAt)
  const leg = { handedOver: false, only: undefined as string[] | undefined }
  const work = async (): Promise<PipelineResult> => {
    leg.only = settings.stage === 'build' ? legServices(r, s.plan) : undefined
    const built = settings.stage === 'finish' ? undefined : await build(r, s, leg.only)
    if (settings.stage === 'build') return resultOf(r, s, startedAt, built)
    const finished = await finish(r, s, built, () => {
      leg.handedOver = true
    })
    return resultOf(r, s, startedAt, built, finished)
  }
  // A build this run registered ends failed, never created or running (from the release on,
  // completeExternalBuild marks it failed itself).
  if (!r.rack || !s.rackBuildId || s.rackFailed) return work()
  const failing = rackBuildFailing(r, s, () => leg)
  return failBuildOnError(r.rack, failing, work)
}

/**
 * How the rack's build is failed: with the reason and the build's log; a build leg stores its
 * log beside the others first and leaves the build alone when another leg failed it already
 * (so the first failure's log stays the build's).
 */
function rackBuildFailing(
  r: Run,
  s: Started,
  leg: () => { handedOver: boolean; only?: string[] }
): FailingBuild {
  const rack = r.rack!
  const { app } = r.settings
  const buildId = s.rackBuildId!
  return {
    app,
    buildId,
    log: e => (e instanceof BuildFailure ? redactArgValues(s.plan, e.log) : ''),
    before: async (e, log) => {
      if (leg().handedOver) return false
      if (r.settings.stage !== 'build') return true
      const first = e instanceof BuildFailure ? e.services[0] : leg().only?.[0]
      const key = first
        ? legLogKey(buildId, buildFirstService(s.plan, first), legPlatform(r, s))
        : undefined
      if (key) {
        await rack.objectStore(app, key, rack.scrub(log), {}, CLEANUP_CALL).catch(() => undefined)
      }
      const now = await rack.buildGet(app, buildId, CLEANUP_CALL).catch(() => undefined)
      return now?.status !== 'failed'
    }
  }
}
