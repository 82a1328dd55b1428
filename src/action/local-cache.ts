import { createHash } from 'node:crypto'
import * as cache from '@actions/cache'
import type { Logger } from '../core/log.js'
import type { Settings } from '../core/settings.js'
import { readOrder, type TrustScope } from '../core/trust.js'

/** Whether the run uses BuildKit's `local` cache, which the action carries between runs. */
export function usesLocalCache(s: Settings): boolean {
  return (
    s.cache === 'local' &&
    !s.noCache &&
    !s.dryRun &&
    !s.import &&
    (s.stage === 'all' || s.stage === 'build')
  )
}

/**
 * Cache keys: one prefix per app and manifest, so builds of other apps in the same repository
 * never restore each other's layers; each run saves under its own key (cache entries are
 * immutable) and restores the newest entry of the prefix. An untrusted run (src/core/trust.ts)
 * saves under its scope's prefix and restores it, else the protected one's; no prefix of a
 * protected key is an untrusted one's.
 */
export function localCacheKeys(
  s: Settings,
  env: NodeJS.ProcessEnv,
  scope?: TrustScope
): { key: string; restoreKeys: string[] } {
  const where = createHash('sha256')
    .update(`${s.workingDirectory}\0${s.manifest}`)
    .digest('hex')
    .slice(0, 16)
  const prefix = (sc?: TrustScope): string =>
    `convox-build-${s.app}-${where}-${sc?.kind === 'untrusted' ? sc.name : 'protected'}-`
  const run = `${env.GITHUB_RUN_ID ?? Date.now()}-${env.GITHUB_RUN_ATTEMPT ?? '1'}`
  return { key: prefix(scope) + run, restoreKeys: readOrder(scope, prefix) }
}

export async function restoreLocalCache(
  dir: string,
  s: Settings,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  scope?: TrustScope
): Promise<void> {
  if (!cache.isFeatureAvailable()) {
    logger.warning('cache "local": the Actions cache service is not available; building cold')
    return
  }
  const { key, restoreKeys } = localCacheKeys(s, env, scope)
  try {
    const hit = await cache.restoreCache([dir], key, restoreKeys)
    logger.info(hit ? `Restored the local build cache from ${hit}` : 'No local build cache yet')
  } catch (e) {
    logger.warning(`could not restore the local build cache: ${(e as Error).message}`)
  }
}

export async function saveLocalCache(
  dir: string,
  s: Settings,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  scope?: TrustScope
): Promise<void> {
  if (!cache.isFeatureAvailable()) return
  const { key } = localCacheKeys(s, env, scope)
  try {
    await cache.saveCache([dir], key)
    logger.info(`Saved the local build cache as ${key}`)
  } catch (e) {
    logger.warning(`could not save the local build cache: ${(e as Error).message}`)
  }
}
