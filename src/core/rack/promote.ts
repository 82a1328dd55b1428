// `convox releases promote` and its wait (pkg/cli/releases.go releasePromote,
// pkg/common/provider.go WaitForAppRunning): the app's status is `updating` while it rolls out,
// `rollback` when the rollout failed, then `running` on whichever release won. A rack refuses a
// promote while the app updates with a 403 (pkg/api/validation.go ReleasePromoteValidate): that
// one is waited out, within the same bound.
import { setTimeout as sleep } from 'node:timers/promises'
import { RemoteError } from '../errors.js'
import type { Logger } from '../log.js'
import { RackError, type RackClient } from './client.js'
import type { RackApp } from './types.js'

export interface PromoteOptions {
  app: string
  releaseId: string
  logger: Logger
  /** Whole wait, before and after the promote (default 30 minutes). */
  timeoutMs?: number
  /** Between AppGet polls (default 5 s, the CLI's ProviderWaitDuration). */
  pollMs?: number
  /** Promote even while the app is updating (the CLI's --force). */
  force?: boolean
}

/** The rack did not promote the release, or the app did not settle in time (exit code 3). */
export class PromoteError extends RemoteError {
  constructor(
    message: string,
    readonly app: RackApp | undefined
  ) {
    super(message)
    this.name = 'PromoteError'
  }
}

export async function promoteRelease(
  client: RackClient,
  options: PromoteOptions
): Promise<RackApp> {
  const { app, releaseId, logger } = options
  const timeoutMs = options.timeoutMs ?? 30 * 60_000
  const pollMs = options.pollMs ?? 5000
  const deadline = Date.now() + timeoutMs
  const where = `rack ${client.host}: app ${app}`

  const pause = (ms: number): Promise<void> =>
    sleep(ms, undefined, { signal: client.signal }).catch(() => client.signal?.throwIfAborted())
  const waitForRunning = async (app0: RackApp): Promise<RackApp> => {
    let app1 = app0
    while (app1.status !== 'running') {
      if (Date.now() >= deadline) {
        throw new PromoteError(
          `${where}: still ${app1.status} after ${seconds(timeoutMs)}, release ${releaseId} not promoted`,
          app1
        )
      }
      await pause(pollMs)
      app1 = await client.appGet(app)
    }
    return app1
  }

  let current = await client.appGet(app)
  if (!options.force && current.status !== 'running') {
    logger.info(`${where} is ${current.status}: waiting for it to be running before promoting`)
    current = await waitForRunning(current)
  }
  let previous = current.release
  if (previous === releaseId && current.status === 'running') {
    logger.info(`${where} already runs release ${releaseId}`)
  }

  logger.info(`${where}: promoting release ${releaseId}`)
  for (;;) {
    try {
      await client.releasePromote(app, releaseId, { force: options.force ?? false })
      break
    } catch (e) {
      if (!(e instanceof RackError && e.appUpdating) || options.force) throw e
      logger.info(`${where}: ${e.rackMessage}: waiting for it to be running before promoting`)
      current = await waitForRunning({ ...current, status: 'updating' })
      previous = current.release
    }
  }

  // The rack may still report the old release for a moment: only a state the promote caused
  // (updating, rollback, or the new release) counts, or the grace of one poll period.
  const graceUntil = Date.now() + pollMs
  let seenChange = false
  for (;;) {
    await pause(Math.min(pollMs, Math.max(0, deadline - Date.now())))
    current = await client.appGet(app)
    if (current.status !== 'running' || current.release === releaseId) seenChange = true
    if (current.status === 'rollback') {
      throw new PromoteError(
        `${where}: release ${releaseId} rolled back${current.release && current.release !== releaseId ? ` to ${current.release}` : ''}`,
        current
      )
    }
    if (current.status === 'running' && (seenChange || Date.now() >= graceUntil)) {
      if (current.release === releaseId) {
        logger.info(`${where} runs release ${releaseId}`)
        return current
      }
      throw new PromoteError(
        `${where}: release ${releaseId} rolled back: the app runs ${current.release || 'no release'}${previous && current.release === previous ? ' (the previous release)' : ''}`,
        current
      )
    }
    if (Date.now() >= deadline) {
      throw new PromoteError(
        `${where}: timed out after ${seconds(timeoutMs)} waiting for release ${releaseId} to run (status ${current.status}, release ${current.release || 'none'})`,
        current
      )
    }
  }
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 1000)}s`
}
