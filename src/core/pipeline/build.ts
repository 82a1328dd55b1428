// Build: the images of a leg's services (default every service), pushed as <service>.<BUILD_ID>;
// a build leg stores its builds' logs on the rack for finish to gather.
import { buildPlan } from '../engine/index.js'
import { UserError } from '../errors.js'
import { planMatrix, planOutput, type Plan } from '../plan.js'
import { storeLegLogs } from './build-logs.js'
import type { Built, Run, Started } from './state.js'

export async function build(r: Run, s: Started, only?: string[]): Promise<Built> {
  const { settings } = r
  // Started by prepare (`all` without a rack), start or resume, once the push target is known.
  const preparation = r.prepared
  if (!preparation) throw new Error('the engine was not prepared before the build')
  const result = await buildPlan(s.plan, s.target, r.run, {
    only,
    ociArchives: !s.target.push && settings.export !== '',
    preparation,
    previousBuildId: previousBuild(r, s),
    trustedKeys: r.trustedKeys,
    keylessTrust: r.keylessTrust
  })
  if (r.rack && s.rackBuildId && settings.stage === 'build') {
    await storeLegLogs(r.rack, settings.app, s, result, legPlatform(r, s))
  }
  return { result, tools: preparation.tools }
}

/** The one platform a platform leg builds (legs: platforms); undefined for other legs. */
export function legPlatform(r: Run, s: Started): string | undefined {
  return r.settings.legs === 'platforms' && r.settings.stage === 'build'
    ? s.target.platforms[0]
    : undefined
}

/** A leg's services: as given, checked against the plan, or those of its matrix entry. */
export function legServices(r: Run, p: Plan): string[] {
  const { leg } = r.settings
  if (leg) {
    const entry = planMatrix(planOutput(p), leg.total).include[leg.index - 1]
    if (!entry) r.logger.info(`leg ${leg.index}/${leg.total}: no build falls to this leg`)
    return entry ? entry.services.split(',') : []
  }
  const services = r.settings.services
  const known = p.services.map(s => s.name)
  const unknown = services.filter(s => !known.includes(s))
  if (unknown.length > 0) {
    throw new UserError({
      input: 'services',
      message: `${unknown.map(s => `"${s}"`).join(', ')} ${unknown.length === 1 ? 'is not a service' : 'are not services'} of the manifest (${known.join(', ')})`
    })
  }
  return services
}

/** The app's newest complete build but this one: its per-build cache is the freshest. */
async function previousBuild(r: Run, s: Started): Promise<string | undefined> {
  if (!r.rack || !s.rackBuildId || r.settings.cacheTags === 'mutable') return undefined
  const builds = await r.rack.buildList(r.settings.app, 20)
  return builds.find(b => b.status === 'complete' && b.id !== s.rackBuildId)?.id
}
