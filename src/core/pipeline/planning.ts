// The plan of a push target (its lines in the Plan group), the app's env it is planned with, and
// the platforms it is built for: what start and resume both do.
import { createPlan, planLines, type Plan, type PlanContext } from '../plan.js'
import { decidePlatforms, type PlatformChoice } from '../platform-choice.js'
import { appBuildArch, appEnvironment } from '../rack/index.js'
import type { Settings } from '../settings.js'
import type { Run } from './state.js'

/** The plan of `target`, its lines in the Plan group; manifest problems before a missing commit. */
export async function plan(
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
export async function appEnv(r: Run): Promise<Record<string, string> | undefined> {
  if (!r.rack) return undefined
  // A review app's release will hold the base app's env (review-env over it).
  if (r.review) return r.review.env
  return appEnvironment(r.rack, r.settings.app)
}

/**
 * The platforms built for: the input, else the app's BuildArch when registering (a rack's nodes
 * may be arm64: an external build gets no platform pin from the rack), else the builder's own.
 */
export async function decide(r: Run): Promise<PlatformChoice> {
  const { settings, rack } = r
  const arch =
    rack && !settings.dryRun && settings.platforms.length === 0
      ? ((await appBuildArch(rack, settings.app))[0] ?? '')
      : undefined
  r.platforms = decidePlatforms({ input: settings.platforms, buildArch: arch })
  r.logger.info(r.platforms.reason)
  return r.platforms
}
