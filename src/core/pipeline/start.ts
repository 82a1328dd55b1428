// Start: the plan checked whole before anything is created, then the rack's build (BUILD_ID),
// failed on the rack if what follows its creation fails.
import { UserError } from '../errors.js'
import { preciseNow } from '../export/record.js'
import {
  createExternalBuild,
  envDropCheck,
  failBuildOnError,
  type ExternalBuildTarget,
  type RackClient
} from '../rack/index.js'
import type { Settings } from '../settings.js'
import { checkTargetFile } from '../target-file.js'
import { appEnv, decide, plan } from './planning.js'
import { checkPlatformLegs } from './platform-legs.js'
import type { Run, Started } from './state.js'

export async function start(r: Run): Promise<Started> {
  const { settings, rack } = r
  const env = await appEnv(r)
  const first = await plan(r, settings, { appEnv: env })
  if (settings.export && settings.stage === 'all') await checkTargetFile(settings.export, 'export')
  if (settings.stage !== 'all' && !settings.registry && !rack) {
    throw new UserError({
      input: 'stage',
      message:
        'a fan-out hands images from stage to stage through a registry: set registry, or register on a rack'
    })
  }
  const started = preciseNow()
  const { platforms } = await decide(r)
  checkPlatformLegs(settings, platforms)
  if (settings.dryRun || !rack) {
    return { plan: first, target: { ...settings, platforms }, started }
  }

  await guardEnvDrop(r, rack)
  const created = await createExternalBuild(rack, {
    app: settings.app,
    manifest: settings.manifest,
    manifestText: first.manifestText,
    description: r.description,
    gitSha: r.gitSha,
    development: settings.development,
    noCache: settings.noCache
  })
  return failBuildOnError(rack, { app: settings.app, buildId: created.buildId }, async () => {
    const target = {
      ...(settings.registry ? settings : rackTarget(settings, created)),
      platforms
    }
    r.prepare?.(target)
    const ids = { buildId: created.buildId, rackName: created.rackName, appEnv: env }
    return { plan: await plan(r, target, ids, true), target, rackBuildId: created.buildId, started }
  })
}

/** The rack's repository as the push target, when the user pushes nowhere else. */
export function rackTarget(settings: Settings, t: ExternalBuildTarget): Settings {
  return {
    ...settings,
    registry: t.repository,
    registryUsername: t.credentials.username,
    registryPassword: t.credentials.password,
    push: true
  }
}

/** CLI 3.25.1's environment drop guard, before the build is registered. */
async function guardEnvDrop(r: Run, rack: RackClient): Promise<void> {
  if (r.settings.envDropGuard === 'off') return
  const check = await envDropCheck(rack, r.settings.app)
  if (check.missing.length === 0) return
  const message = `this build's release would drop env that the running release ${check.running} has: ${check.missing.join(', ')} (a new release inherits the newest release, ${check.newest}, which lacks it; convox env set it, or env-drop-guard: off)`
  if (r.settings.envDropGuard === 'strict')
    throw new UserError({ input: 'env-drop-guard', message })
  r.logger.warning(message)
}
