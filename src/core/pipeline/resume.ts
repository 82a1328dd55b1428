// Build and finish stages of a fan-out: the build start made, found again from its id (on the
// rack, or in the registry alone), and planned again from the same checkout and settings.
import { UserError } from '../errors.js'
import { preciseNow } from '../export/record.js'
import { externalBuildTarget, parseAnyTime } from '../rack/index.js'
import { checkTargetFile } from '../target-file.js'
import { legPlatform } from './build.js'
import { appEnv, decide, plan } from './planning.js'
import { checkPlatformLegs, legPlan } from './platform-legs.js'
import { rackTarget } from './start.js'
import type { Run, Started } from './state.js'

export async function resume(r: Run): Promise<Started> {
  const s = await found(r)
  checkPlatformLegs(r.settings, s.target.platforms)
  const platform = legPlatform(r, s)
  return platform ? { ...s, plan: legPlan(s.plan, platform) } : s
}

async function found(r: Run): Promise<Started> {
  const { settings, rack } = r
  const buildId = settings.buildId
  // Before the release is made: a bad export path must not fail a build after it.
  if (settings.export && settings.stage === 'finish') {
    await checkTargetFile(settings.export, 'export')
  }
  if (!rack) {
    if (!settings.registry) {
      throw new UserError({
        input: 'registry',
        message: `stage ${settings.stage} finds the images of build ${buildId} in the registry: set registry, or register on a rack`
      })
    }
    const target = { ...settings, platforms: (await decide(r)).platforms }
    r.prepare?.(target)
    return { plan: await plan(r, target, { buildId }), target, started: preciseNow() }
  }
  const existing = await rack.buildGet(settings.app, buildId)
  const ended = existing.status === 'failed' || existing.status === 'complete'
  if (settings.stage === 'build' && ended) {
    throw new UserError({
      input: 'build-id',
      message: `build ${buildId} on the rack is ${existing.status}: nothing more is built into it`
    })
  }
  const [system, pushTo, env, choice] = await Promise.all([
    rack.systemGet(),
    settings.registry
      ? Promise.resolve(settings)
      : externalBuildTarget(rack, settings.app).then(t => rackTarget(settings, t)),
    appEnv(r),
    decide(r)
  ])
  const target = { ...pushTo, platforms: choice.platforms }
  r.prepare?.(target)
  return {
    plan: await plan(r, target, { buildId, rackName: system.name, appEnv: env }),
    target,
    rackBuildId: buildId,
    rackFailed: existing.status === 'failed',
    started: { date: parseAnyTime(existing.started) ?? new Date() }
  }
}
