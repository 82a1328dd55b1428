// The run's cache-tag policy: which cache refs each build reads and writes, as one object whose
// state (the tag mode, and which builds were given which tags) is explicit. Held apart from the
// builds because the tag mode is the run's, not a build's: `auto` starts with the shared
// `<service>.buildcache` and switches every build, once, to a tag per build at the first refusal
// to overwrite one (a rack with immutable ECR tags). The names come from src/core/trust.ts, the
// options from ./cache.ts.
import type { Logger } from '../log.js'
import type { Plan } from '../plan.js'
import type { CacheMode, CacheTagMode } from '../settings.js'
import { cacheName, registryCacheTag, type TrustScope } from '../trust.js'
import {
  cacheOptions,
  canExport,
  inlineCacheRef,
  previousCacheRef,
  registryCacheRef,
  resolveCacheMode,
  type CacheOptions,
  type ResolvedCacheMode
} from './cache.js'
import type { BuildRequest, Engine } from './types.js'

export interface CachePolicyOptions {
  plan: Plan
  /** Default auto. */
  cacheTags?: CacheTagMode
  push: boolean
  noCache: boolean
  github: boolean
  env: NodeJS.ProcessEnv
  localCacheDir: string
  scope?: TrustScope
  /** The app's latest completed build, whose per-build cache is read when it exists. */
  previousBuildId?: string
  /** Whether a reference exists in the registry (the registry client). */
  hasManifest?: (ref: string, signal: AbortSignal) => Promise<boolean>
  /** The plan indexes of the builds this run makes (a fan-out leg's). */
  builds: number[]
  logger: Logger
  warn: (message: string) => void
  signal?: AbortSignal
}

/** The cache mode the builder can export: the inline cache when it cannot export the asked one. */
export function exportableCacheMode(
  cache: CacheMode,
  engine: Pick<Engine, 'driver' | 'description'>,
  ctx: { push: boolean; github: boolean },
  warn: (message: string) => void
): ResolvedCacheMode {
  const mode = resolveCacheMode(cache, ctx)
  if (canExport(engine.driver, mode)) return mode
  warn(
    `the ${engine.description} cannot export the "${mode}" cache: using the inline cache instead (use a docker-container builder for the ${mode} cache)`
  )
  return 'inline'
}

/**
 * The builds whose previous build left a cache to read (its per-build tag): looked up once per
 * build before any runs; a lookup that fails counts as none (the shared tag is read then).
 */
async function previousCaches(
  o: CachePolicyOptions,
  mode: ResolvedCacheMode
): Promise<Set<number>> {
  const found = new Set<number>()
  const id = o.previousBuildId
  const { hasManifest } = o
  if (!id || !o.push || !hasManifest || o.noCache || o.cacheTags === 'mutable') return found
  const signal = o.signal ?? new AbortController().signal
  await Promise.all(
    o.builds.map(async index => {
      const ref = previousCacheRef(mode, o.plan.registry, firstService(o.plan, index), id)
      if (!ref) return
      try {
        if (await hasManifest(ref, signal)) found.add(index)
      } catch (e) {
        o.logger.debug(
          `${ref}: not checked (${(e as Error).message}): reading the shared cache tag`
        )
      }
    })
  )
  return found
}

/** A build's cache is named after its first service in the plan, whichever leg builds it. */
/** What a build's caches are named after (trust.ts cacheName). */
function firstService(plan: Plan, index: number): string {
  return cacheName(plan.builds[index]?.services[0] ?? `build-${index}`, plan.platformLeg)
}

export async function cachePolicy(
  mode: ResolvedCacheMode,
  o: CachePolicyOptions
): Promise<CachePolicy> {
  return new CachePolicy(mode, o, await previousCaches(o, mode))
}

export class CachePolicy {
  /** As asked: `auto` may switch `current` to immutable. */
  readonly tagMode: CacheTagMode
  private current: CacheTagMode
  /** The tag mode each build's cache options were made with. */
  private readonly given = new Map<number, CacheTagMode>()

  constructor(
    readonly mode: ResolvedCacheMode,
    private readonly o: CachePolicyOptions,
    /** The builds that read their previous build's cache. */
    private readonly previous: Set<number>
  ) {
    this.tagMode = o.cacheTags ?? 'auto'
    this.current = this.tagMode
  }

  /** The cache options of a build, with the run's cache tags as they are now. */
  options(index: number): CacheOptions {
    const { o } = this
    const cache = cacheOptions(this.mode, firstService(o.plan, index), {
      app: o.plan.app,
      registry: o.plan.registry,
      push: o.push,
      github: o.github,
      env: o.env,
      scope: o.scope,
      localCacheDir: o.localCacheDir,
      noCache: o.noCache,
      cacheTags: this.current,
      buildId: o.plan.buildId,
      ...(this.previous.has(index) ? { previousBuildId: o.previousBuildId } : {})
    })
    this.given.set(index, this.current)
    return cache
  }

  /** Gives a request the run's cache tags when they changed since it was made; true if so. */
  refresh(req: BuildRequest): boolean {
    if (this.given.get(req.index) === this.current) return false
    const old = new Set(req.cache.tags ?? [])
    req.cache = this.options(req.index)
    req.tags = [...req.tags.filter(t => !old.has(t)), ...(req.cache.tags ?? [])]
    return true
  }

  /**
   * The registry refused to overwrite a cache tag: with `auto`, every build of the run writes its
   * cache under a tag of its own from now on (one warning); false when the mode is forced.
   */
  refusedOverwrite(tag: string, why: string): boolean {
    if (this.tagMode !== 'auto') return false
    if (this.current !== 'immutable') {
      this.current = 'immutable'
      this.o.warn(
        `the registry refuses to overwrite the cache tag ${tag} (${why}): writing the cache under ${registryCacheTag('<service>', this.o.scope, this.o.plan.buildId)} instead, as a rack with immutable tags (ecr_immutable_tags_enabled) does; set cache-tags: immutable to start that way`
      )
    }
    return true
  }

  /** The shared tag keeping a build's inline cache findable ('' without a registry). */
  inlineRef(index: number): string {
    const { plan, scope } = this.o
    return plan.registry ? inlineCacheRef(plan.registry, firstService(plan, index), scope) : ''
  }

  /** A build's registry cache ref: the shared tag, or this run's per-build one. */
  registryRef(index: number, perBuild: boolean): string {
    const { plan, scope } = this.o
    const id = perBuild ? plan.buildId : undefined
    return registryCacheRef(plan.registry, firstService(plan, index), id, scope)
  }
}
