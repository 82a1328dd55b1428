// Review apps: on a pull request, the build goes into <app>-pr-<number>, made when missing and
// given the app's env (review-env over it) in its one release; on `closed` that app is deleted
// and nothing is built; a fork's pull request without the rack's credentials builds nothing.
import { noCi } from '../commit.js'
import { UserError } from '../errors.js'
import { planMatrix } from '../plan.js'
import { appEnvironment, CLEANUP_CALL } from '../rack/index.js'
import { endpointUrls, isReviewAppOf, parseReviewEnv, reviewAppName } from '../review/review-app.js'
import type { Finishing } from './finish.js'
import type { PipelineResult, ReviewReport, Run } from './state.js'

/**
 * Before any stage: the review app this run builds into (r.settings.app becomes its name), or
 * the result of a run that builds nothing (a closed pull request, a fork's without secrets).
 */
export async function reviewStep(r: Run, startedAt: number): Promise<PipelineResult | undefined> {
  const { settings, rack } = r
  if (!settings.review) return undefined
  const overrides = parseReviewEnv(settings.reviewEnv)
  const ci = (await r.run.ci) ?? noCi(settings.gitSha)
  if (!ci.isPullRequest || !ci.pullRequest) {
    r.logger.info(`review: not a pull request: building ${settings.app} as usual`)
    return undefined
  }
  const pr = ci.pullRequest.replace(/^!/, '')
  if (!rack) {
    if (ci.fromFork) {
      const notice = `review: pull request ${pr} comes from a fork and this run has no rack credentials (forks get no secrets): nothing built, no review app`
      ;(r.logger.notice ?? r.logger.info)(notice)
      return nothingBuilt(r, startedAt, {
        app: '',
        base: settings.app,
        pullRequest: pr,
        state: 'skipped',
        urls: {}
      })
    }
    throw new UserError({
      input: 'review',
      message: 'needs the rack: set rack-url, or convox-password and rack'
    })
  }
  if (settings.stage !== 'all' || settings.import) {
    throw new UserError({ input: 'review', message: 'builds in one run (stage all, no import)' })
  }
  const rackName = (await rack.systemGet()).name
  const base = settings.app
  const app = reviewAppName(base, pr, rackName)
  if (ci.pullRequestAction === 'closed') {
    await deleteReviewApp(r, { base, app, pr, rackName })
    return nothingBuilt(r, startedAt, { app, base, pullRequest: pr, state: 'deleted', urls: {} })
  }
  const env = { ...(await appEnvironment(rack, base)), ...overrides }
  if (!settings.dryRun) {
    if (await rack.appFind(app)) {
      r.logger.info(`review app ${app}: reusing it`)
    } else {
      r.logger.info(`review app ${app}: creating it on rack ${rack.host}`)
      await rack.appCreate(app)
    }
  }
  r.review = { app, base, pullRequest: pr, env }
  r.settings = { ...settings, app, promote: true }
  return undefined
}

/** Deletes this pull request's review app, never another app; gone already is done. */
async function deleteReviewApp(
  r: Run,
  x: { base: string; app: string; pr: string; rackName: string }
): Promise<void> {
  const rack = r.rack!
  if (!isReviewAppOf(x.app, x.base, x.pr, x.rackName)) {
    throw new UserError({
      input: 'review',
      message: `${x.app} is not the review app of ${x.base}: not deleting it`
    })
  }
  if (r.settings.dryRun) {
    r.logger.info(`review app ${x.app}: would be deleted (dry run)`)
    return
  }
  if (!(await rack.appFind(x.app))) {
    r.logger.info(`review app ${x.app}: already gone`)
    return
  }
  await rack.appDelete(x.app)
  r.logger.info(`review app ${x.app}: deleted (pull request ${x.pr} closed)`)
}

/** The last step of finish in a review app: its services' endpoints, as the rack tells them. */
export async function reviewLinks(f: Finishing): Promise<void> {
  const { r } = f
  if (!r.review || !r.rack) return
  // Links only: a rack that cannot list them leaves the review app built and promoted.
  const services = await r.rack.serviceList(r.review.app, CLEANUP_CALL).catch(() => [])
  f.reviewUrls = endpointUrls(services)
}

/** The result of a run that builds nothing: its review app's fate only. */
function nothingBuilt(r: Run, startedAt: number, review: ReviewReport): PipelineResult {
  const { settings } = r
  const plan = {
    app: review.app || settings.app,
    buildId: '',
    manifest: settings.manifest,
    gitSha: r.gitSha,
    description: r.description,
    development: settings.development,
    services: [],
    builds: []
  }
  return {
    stage: settings.stage,
    plan,
    buildId: '',
    releaseId: '',
    images: {},
    digests: {},
    services: [],
    exportPath: '',
    warnings: r.warnings,
    buildArgNames: [],
    matrix: planMatrix(plan),
    platforms: '',
    scope: r.scope,
    durationMs: Date.now() - startedAt,
    review
  }
}
