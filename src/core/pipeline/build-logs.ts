// The build logs the rack keeps (its build's log, build.json's `logs`): a build leg stores each
// of its builds' logs beside the others, finish gathers them in the plan's build order. The
// user's build-arg values are left out of every stored log.
import { isManagedArg } from '../build-args.js'
import type { BuildPlanResult } from '../engine/index.js'
import type { Plan } from '../plan.js'
import type { RackClient } from '../rack/index.js'
import { Redactor } from '../secrets.js'
import { platformTagPart } from '../trust.js'
import type { Started } from './state.js'

/**
 * Where a build leg keeps a build's log on the rack, for the finish stage to gather; a platform
 * leg's has its platform.
 */
export function legLogKey(buildId: string, firstService: string, platform?: string): string {
  return `build/${buildId}/legs/${firstService}${platform ? `.${platformTagPart(platform)}` : ''}.log`
}

/** The first service of the build a service is in: what names the build's log and cache. */
export function buildFirstService(p: Plan, service: string): string {
  const svc = p.services.find(x => x.name === service)
  return (
    (svc?.build !== null && svc?.build !== undefined && p.builds[svc.build]?.services[0]) || service
  )
}

export async function storeLegLogs(
  rack: RackClient,
  app: string,
  s: Started,
  result: BuildPlanResult,
  platform?: string
): Promise<void> {
  for (const b of result.builds) {
    // Named after the build's first service in the plan, whichever leg built it.
    const first = s.plan.builds[b.index]?.services[0]
    if (!first) continue
    const log = rack.scrub(redactArgValues(s.plan, b.log))
    try {
      await rack.objectStore(app, legLogKey(s.plan.buildId, first, platform), log)
    } catch (e) {
      rack.logger.warning(
        `could not store the log of ${b.services.join(', ')}: ${(e as Error).message}`
      )
    }
  }
}

/** Every build's log, as the rack stores it (the user's arg values left out). */
export function builtLogs(p: Plan, result: BuildPlanResult): string {
  return redactArgValues(
    p,
    result.builds.map(b => `==> ${b.services.join(', ')}\n${b.log.trimEnd()}\n`).join('')
  )
}

/**
 * The logs the build legs stored on the rack, in the plan's build order; with legs per platform,
 * each build's once per platform.
 */
export async function gatherLegLogs(
  rack: RackClient,
  s: Started,
  platforms: (string | undefined)[] = [undefined]
): Promise<string> {
  const parts: string[] = []
  for (const b of s.plan.builds) {
    const first = b.services[0]
    if (!first) continue
    for (const platform of platforms) {
      const head = `==> ${b.services.join(', ')}${platform ? ` (${platform})` : ''}\n`
      try {
        const key = legLogKey(s.plan.buildId, first, platform)
        const text = (await rack.objectFetch(s.plan.app, key)).toString()
        parts.push(`${head}${text.trimEnd()}\n`)
      } catch {
        parts.push(`${head}(no log stored by its build leg)\n`)
      }
    }
  }
  return parts.join('')
}

/**
 * BuildKit names steps with build-arg values expanded; the stored log (rack, build.json) keeps
 * the user's own values out, as it keeps them out of the plan and the summary.
 */
export function redactArgValues(p: Plan, text: string): string {
  const values = new Redactor()
  for (const b of p.builds) {
    for (const [name, value] of Object.entries(b.argValues)) {
      if (!isManagedArg(name) || name === 'BUILD_AUTH') values.add(value)
    }
  }
  return values.redact(text)
}
