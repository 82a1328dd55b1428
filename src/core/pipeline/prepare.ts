// Before any stage: the run's secrets, its warnings, the rack client, the fork guard and the
// commit built.
import { defaultDescription, noCi, unknownCommit } from '../commit.js'
import { prepareEngine } from '../engine/index.js'
import { UserError } from '../errors.js'
import type { Logger } from '../log.js'
import { RackClient, rackClientOptions } from '../rack/index.js'
import type { RunEnvironment } from '../run-environment.js'
import { addSettingsSecrets, type Settings } from '../settings.js'
import { loadSigningKey, reuseTrustedKeys } from '../signing/key.js'
import { keylessTrustFor } from '../signing/keyless-trust.js'
import { chooseSigner } from '../signing/signer.js'
import { describeScope, guardForkCode } from '../trust.js'
import type { Run } from './state.js'

/** Secrets, warnings, the rack client and the commit: what every stage needs. */
export async function prepare(settings: Settings, run: RunEnvironment): Promise<Run> {
  addSettingsSecrets(run.secrets, settings)
  const warnings: string[] = []
  const logger: Logger = {
    ...run.logger,
    warning: (message, where) => {
      warnings.push(message)
      run.logger.warning(message, where)
    }
  }
  const options = rackClientOptions(settings)
  const rack = options
    ? new RackClient({ ...options, secrets: run.secrets, logger, signal: run.signal })
    : undefined
  const r: Run = {
    settings,
    run: { ...run, logger },
    logger,
    warnings,
    rack,
    gitSha: '',
    description: '',
    scope: ''
  }
  if (settings.import) return r
  // A bad key stops the run before anything is built or pushed.
  if (settings.sign !== 'off' && settings.signingKey && !settings.dryRun) {
    r.signing = loadSigningKey(settings.signingKey, settings.signingKeyPassword)
  }
  r.trustedKeys = reuseTrustedKeys(settings, r.signing)
  const ci = (await run.ci) ?? noCi(settings.gitSha)
  // Before any network call: a dry run makes none but the rack's read-only GETs (the app's env).
  if (!settings.dryRun || rack) guardForkCode(ci.forkCode, settings)
  // Asks the CI for its OIDC token: after the fork guard.
  if (!settings.dryRun) r.signer = await chooseSigner(settings, r.run, r.signing, ci.scope)
  r.keylessTrust = keylessTrustFor(settings, ci, run.tempDir, r.signer?.kind === 'keyless')
  r.scope = describeScope(ci.scope)
  if ((settings.stage === 'all' || settings.stage === 'build') && !settings.dryRun) {
    r.prepare = target => {
      r.prepared = prepareEngine(target, r.run, { workingDirectory: target.workingDirectory })
    }
    // Without a rack the push target is the settings' own: start now.
    if (!rack && settings.stage === 'all') r.prepare(settings)
  }
  if (!ci.commit) {
    const unknown = unknownCommit(ci, settings.buildArgs, settings.workingDirectory)
    if ('problem' in unknown) r.gitProblem = new UserError(unknown.problem)
    else logger.warning(unknown.warning)
  }
  r.gitSha = ci.commit
  r.description = settings.description || defaultDescription(ci)
  return r
}
