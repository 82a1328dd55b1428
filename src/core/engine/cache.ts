// BuildKit cache import/export options per build, as `type=...,key=value` strings that both
// buildx (`--cache-from/--cache-to`) and buildctl (`--import-cache/--export-cache`) take.
import path from 'node:path'
import { UserError } from '../errors.js'
import type { CacheMode, CacheTagMode } from '../settings.js'
import {
  ghaCacheScope,
  inlineCacheTag,
  readOrder,
  registryCacheTag,
  type TrustScope
} from '../trust.js'
import { localCachePaths, type LocalCachePaths } from './local-cache.js'

export type ResolvedCacheMode = Exclude<CacheMode, 'auto'>

export interface CacheOptions {
  mode: ResolvedCacheMode
  imports: string[]
  exports: string[]
  /** Local cache: read from a snapshot of `src`, exported to `dest`, which then replaces `src`. */
  local?: LocalCachePaths
  /** Tags the pushed image also gets: the inline cache's stable name, read by the next build. */
  tags?: string[]
}

export interface CacheContext {
  app: string
  /** Push repository ('' when none). */
  registry: string
  push: boolean
  github: boolean
  env: NodeJS.ProcessEnv
  /**
   * The run's trust scope: an untrusted run reads its own cache and then the protected one, and
   * writes only its own (src/core/trust.ts); none: protected.
   */
  scope?: TrustScope
  localCacheDir: string
  noCache: boolean
  /**
   * Registry cache tags: `immutable` writes a tag per build, `mutable` and `auto` (default) the
   * shared one; `auto` and `immutable` also read the previous build's (see cacheOptions).
   */
  cacheTags?: CacheTagMode
  /** This run's build id (the per-build cache tag). */
  buildId?: string
  /**
   * The latest completed build of the app when its per-build cache exists (`auto` and
   * `immutable`): that cache is read instead of the shared tag. Not both: BuildKit asks every
   * imported cache at once and keeps whichever answers first for each step
   * (solver/combinedcache.go Query), so a stale shared tag can hide the newer cache's steps.
   */
  previousBuildId?: string
}

/** `auto`: registry when pushing, else gha on GitHub, else local. */
export function resolveCacheMode(mode: CacheMode, ctx: Pick<CacheContext, 'push' | 'github'>) {
  if (mode !== 'auto') return mode
  if (ctx.push) return 'registry'
  return ctx.github ? 'gha' : 'local'
}

/**
 * The rack's registry cache ref for a service: `<service>.buildcache`, or with a build id the
 * per-build tag a rack with immutable ECR tags writes (`<service>.buildcache.<BUILD_ID>`, 3.25.10
 * `ecr_immutable_tags_enabled`).
 */
export function registryCacheRef(
  registry: string,
  service: string,
  buildId?: string,
  scope?: TrustScope
): string {
  return `${registry}:${registryCacheTag(service, scope, buildId)}`
}

/**
 * What a build reads the previous build's cache from (see CacheContext.previousBuildId): its
 * per-build registry cache, which only protected runs write; undefined for other modes. (The
 * inline cache's would be the previous build's image: any run that registered on the rack,
 * an untrusted one too, made it.)
 */
export function previousCacheRef(
  mode: ResolvedCacheMode,
  registry: string,
  service: string,
  previousBuildId: string
): string | undefined {
  if (!registry) return undefined
  if (mode === 'registry') return registryCacheRef(registry, service, previousBuildId)
  return undefined
}

/**
 * A registry's refusal to overwrite a tag, as BuildKit reports it: ECR's immutable repositories
 * answer TAG_INVALID ("tag invalid: The image tag '...' already exists in the '...' repository
 * and cannot be overwritten because the repository is immutable.", moby/buildkit#3776), the ECR
 * API says ImageTagAlreadyExistsException.
 */
export function isTagOverwriteRefusal(error: string): boolean {
  return /TAG_INVALID|tag invalid|ImageTagAlreadyExists|cannot be overwritten|\bimmutable\b/i.test(
    error
  )
}

/** Where the inline cache of a service's last pushed image stays findable. */
export function inlineCacheRef(registry: string, service: string, scope?: TrustScope): string {
  return `${registry}:${inlineCacheTag(service, scope)}`
}

/** Path-safe piece of a name. */
function scopePart(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-')
}

/** A service's local cache directory name: the service, with an untrusted run's scope. */
function localCacheName(service: string, scope?: TrustScope): string {
  return scope?.kind === 'untrusted' ? `${service}.${scope.name}` : service
}

/**
 * Cache options for one build, named after its first service.
 * `mode` must already be resolved (see resolveCacheMode).
 */
export function cacheOptions(
  mode: ResolvedCacheMode,
  service: string,
  ctx: CacheContext
): CacheOptions {
  const imports: string[] = []
  const exports: string[] = []
  const tags: string[] = []
  let local: CacheOptions['local']
  switch (mode) {
    case 'registry': {
      if (!ctx.registry) {
        throw new UserError({ input: 'cache', message: 'cache "registry" needs a registry' })
      }
      const { scope } = ctx
      const ref = registryCacheRef(ctx.registry, service)
      let target = registryCacheRef(ctx.registry, service, undefined, scope)
      // As the rack does with immutable tags: the latest completed build's cache, else the
      // shared tag. `auto` reads it too: the repository may be one that refuses overwrites.
      const previous =
        ctx.previousBuildId && ctx.cacheTags !== 'mutable'
          ? previousCacheRef(mode, ctx.registry, service, ctx.previousBuildId)
          : undefined
      if (ctx.cacheTags === 'immutable') {
        if (!ctx.buildId) throw new Error('immutable cache tags need the build id')
        target = registryCacheRef(ctx.registry, service, ctx.buildId, scope)
      }
      // An untrusted run's own cache first (its shared tag: its per-build ones are not looked up).
      if (scope?.kind === 'untrusted') {
        imports.push(
          `type=registry,ref=${registryCacheRef(ctx.registry, service, undefined, scope)}`
        )
      }
      imports.push(`type=registry,ref=${previous ?? ref}`)
      exports.push(
        `type=registry,ref=${target},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true`
      )
      break
    }
    case 'gha': {
      // The cache service scopes by ref too, but a workflow_run of a pull request runs on the
      // default branch's: the trust scope decides.
      const base = `${ctx.app}-${service}`
      const extra = ghaAttributes(ctx.env)
      for (const scope of readOrder(ctx.scope, s => ghaCacheScope(base, s))) {
        imports.push(`type=gha,scope=${scope}${extra}`)
      }
      exports.push(
        `type=gha,scope=${ghaCacheScope(base, ctx.scope)},mode=max,ignore-error=true${extra}`
      )
      break
    }
    case 'local': {
      // One directory per scope (a CI agent may keep it from run to run); an untrusted run reads
      // its own snapshot first, then the protected directory as it stands.
      const [own, ...fallback] = readOrder(ctx.scope, s => scopePart(localCacheName(service, s)))
      local = localCachePaths(ctx.localCacheDir, own!)
      imports.push(`type=local,src=${local.read}`)
      for (const name of fallback)
        imports.push(`type=local,src=${path.join(ctx.localCacheDir, name)}`)
      exports.push(`type=local,dest=${local.dest},mode=max,ignore-error=true`)
      break
    }
    case 'inline': {
      exports.push('type=inline')
      if (ctx.registry) {
        // Images are tagged per build id: a stable tag lets the next build find this cache.
        // A registry that never overwrites a tag has it in the latest completed build's image.
        // A registry that never overwrites a tag gets no stable tag: the rack's cache is read.
        if (ctx.push && ctx.cacheTags !== 'immutable') {
          const registry = ctx.registry
          for (const ref of readOrder(ctx.scope, s => inlineCacheRef(registry, service, s))) {
            imports.push(`type=registry,ref=${ref}`)
          }
          tags.push(inlineCacheRef(registry, service, ctx.scope))
        }
        // Still reads the rack's registry cache when there is one.
        imports.push(`type=registry,ref=${registryCacheRef(ctx.registry, service)}`)
      }
      break
    }
    case 'none':
      break
  }
  return {
    mode,
    imports: ctx.noCache ? [] : imports,
    exports,
    ...(local ? { local } : {}),
    ...(tags.length > 0 ? { tags } : {})
  }
}

/**
 * The GitHub cache service's address and API version. The token is left out: both engines read
 * ACTIONS_RUNTIME_TOKEN from their environment, and an argv is visible to every user of the
 * machine. The version follows @actions/cache: v2 only where ACTIONS_CACHE_SERVICE_V2 says so,
 * since BuildKit speaks v2 to any `url_v2` it is given.
 */
function ghaAttributes(env: NodeJS.ProcessEnv): string {
  let s = ''
  if (env.ACTIONS_CACHE_SERVICE_V2 && /^(true|1)$/i.test(env.ACTIONS_CACHE_SERVICE_V2)) {
    if (env.ACTIONS_RESULTS_URL) s += `,url_v2=${env.ACTIONS_RESULTS_URL}`
    s += ',version=2'
  } else {
    const url = env.ACTIONS_CACHE_URL || env.ACTIONS_RESULTS_URL
    if (url) s += `,url=${url}`
    s += ',version=1'
  }
  return s
}

/** Cache types a builder cannot export, e.g. buildx's `docker` driver exports inline only. */
export function canExport(driver: string, mode: ResolvedCacheMode): boolean {
  if (driver !== 'docker') return true
  return mode === 'inline' || mode === 'none'
}
