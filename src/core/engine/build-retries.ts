// Why one build runs again: three rules, each for a push or cache export the registry refused
// or garbled after BuildKit had built every step, so another attempt only repeats the export.
// Each rule runs a build again at most once; any other failure is the build's.
//   inline tag refused: the image's push failed on the shared inline-cache tag (a registry that
//     never overwrites a tag): with cache-tags auto, push again without it;
//   registry write race: the registry lost a blob it had taken (two writers of one blob): push
//     again once;
//   cache tag refused: the build succeeded but its registry cache export was refused: with
//     cache-tags auto, export again under the per-build tag; else a warning.
import { isTagOverwriteRefusal } from './cache.js'
import type { CachePolicy } from './cache-policy.js'
import type { BuildFailure } from './run-build.js'
import type { BuildRequest } from './types.js'

/**
 * Push failures where the registry lost or mixed up a blob it was sent, not a mistake of the
 * build: distribution answers DIGEST_INVALID / BLOB_UNKNOWN / BLOB_UPLOAD_UNKNOWN then.
 */
export function isRegistryWriteRace(reason: string): boolean {
  return /provided digest did not match uploaded content|blob unknown|blob upload unknown|DIGEST_INVALID|BLOB_UNKNOWN|BLOB_UPLOAD_UNKNOWN/i.test(
    reason
  )
}

/** A failed attempt run again: push without the shared inline-cache tag, or push again. */
export type RetryAfterFailure =
  { rule: 'inline tag refused'; tag: string } | { rule: 'registry write race' }

/**
 * The rule that runs a failed build again, if any. The first switches the run's cache tags (see
 * CachePolicy.refusedOverwrite) and gives `req` the new ones.
 */
export function retryAfterFailure(
  e: BuildFailure,
  req: BuildRequest,
  cache: CachePolicy
): RetryAfterFailure | undefined {
  const inline = cache.inlineRef(req.index)
  if (
    inline &&
    req.cache.tags?.includes(inline) &&
    isTagOverwriteRefusal(e.reason) &&
    e.reason.includes(inline.slice(inline.lastIndexOf(':') + 1)) &&
    cache.refusedOverwrite(inline, e.reason)
  ) {
    cache.refresh(req)
    return { rule: 'inline tag refused', tag: inline }
  }
  if (isRegistryWriteRace(e.reason)) return { rule: 'registry write race' }
  return undefined
}

/** After a refused cache export: export again under `perBuild`, or only warn. */
export type AfterCacheRefusal =
  { rule: 'cache tag refused'; tag: string; perBuild: string } | { warning: string }

/**
 * A build succeeded but the registry refused to overwrite its cache tag (`refused`):
 * with `auto` its cache is exported again under the per-build tag (given to `req`).
 */
export function afterCacheRefusal(
  refused: string,
  req: BuildRequest,
  cache: CachePolicy,
  who: string
): AfterCacheRefusal {
  const tag = cache.registryRef(req.index, false)
  if (cache.refusedOverwrite(tag, refused) && cache.refresh(req)) {
    return { rule: 'cache tag refused', tag, perBuild: cache.registryRef(req.index, true) }
  }
  if (cache.tagMode === 'mutable') {
    return {
      warning: `${who}: the registry refuses to overwrite the cache tag ${tag} (${refused}), so this build's cache was not saved (the build succeeded); set cache-tags to auto or immutable for a cache tag per build`
    }
  }
  return { warning: `${who}: ${refused} (the build succeeded)` }
}
