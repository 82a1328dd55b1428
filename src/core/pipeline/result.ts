// What a run reports to its shell: the stages' work as a PipelineResult.
import { checkProblem } from '../engine/index.js'
import { planMatrix, planOutput } from '../plan.js'
import { platformLegsOf } from './platform-legs.js'
import type { Built, Finished, PipelineResult, Run, Started } from './state.js'

export function resultOf(
  r: Run,
  s: Started,
  startedAt: number,
  built?: Built,
  finished?: Finished
): PipelineResult {
  const { plan: p } = s
  const checks = built?.result.checks ?? []
  // The checks have their own section: not again among the warnings.
  const said = new Set(checks.map(c => checkProblem(c).message))
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
    warnings: r.warnings.filter(w => !said.has(w)),
    ...(checks.length > 0 ? { checks } : {}),
    buildArgNames: [...new Set(p.builds.flatMap(b => b.args))].sort(),
    appEnvArgNames: [...new Set(p.builds.flatMap(b => b.appEnvArgs ?? []))].sort(),
    matrix: planMatrix(
      planOutput(p),
      r.settings.maxLegs,
      platformLegsOf(r.settings, s.target.platforms)
    ),
    scope: r.scope,
    // The value without its label: the summary and --json label it.
    platforms: (r.platforms?.reason ?? '').replace(/^platforms:? /, ''),
    durationMs: Date.now() - startedAt,
    review: r.review && {
      app: r.review.app,
      base: r.review.base,
      pullRequest: r.review.pullRequest,
      state: 'deployed',
      urls: finished?.reviewUrls ?? {}
    }
  }
}
