// Runs a plan's builds: distinct builds concurrently (up to `concurrency`), each once and tagged
// for all its services, or reused when its content key is unchanged (src/core/reuse); image
// services copied into the repository. The first failure aborts the
// rest and is reported as one line naming the service(s) and BuildKit's reason.
//
// Logging: while builds run, each completed Dockerfile step prints one line prefixed by the
// build's services (parallel builds interleave line by line, each line says whose it is); when a
// build ends, its whole log is printed in one group, so groups never interleave.
import path from 'node:path'
import { SECRET_ARGS } from '../build-auth.js'
import type { Logger } from '../log.js'
import type { BuildSpec, Plan, PlannedService } from '../plan.js'
import type { Reuse, ReuseDecision } from '../reuse/index.js'
import type { RunEnvironment, ServiceReport } from '../run-environment.js'
import type { CacheMode, CacheTagMode } from '../settings.js'
import {
  cacheOptions,
  canExport,
  inlineCacheRef,
  isTagOverwriteRefusal,
  previousCacheRef,
  registryCacheRef,
  resolveCacheMode,
  type ResolvedCacheMode
} from './cache.js'
import { throwIfCancelled } from '../interrupt.js'
import { registryCacheTag } from '../trust.js'
import { forEachLimit } from '../pool.js'
import { BuildFailure, runBuild } from './run-build.js'
import type { BuildOutput, BuildRequest, BuildResult, Engine } from './types.js'

/** An image service's copy: the pushed digest, the platforms copied and those it lacks. */
export interface CopiedImage {
  digest: string
  platforms: string[]
  missing: string[]
}

/**
 * Copies an image registry to registry (the registry client): every platform of an index, or
 * only `platforms` when some are given.
 */
export type CopyImage = (
  from: string,
  to: string,
  signal: AbortSignal,
  platforms: string[]
) => Promise<CopiedImage>

export interface BuildsOptions {
  plan: Plan
  engine: Engine
  run: RunEnvironment
  /** Private docker config env (DOCKER_CONFIG, BUILDX_CONFIG) for the engine processes. */
  childEnv: Record<string, string>
  cache: CacheMode
  /**
   * Registry cache tags: `auto` writes `<service>.buildcache` and switches to a tag per build
   * when the registry refuses to overwrite it; `mutable` / `immutable` force either. Default auto.
   */
  cacheTags?: CacheTagMode
  /**
   * The app's latest completed build: with `auto` or `immutable` cache tags its per-build cache
   * is read instead of the shared tag when `hasManifest` finds it.
   */
  previousBuildId?: string
  /** Whether a reference exists in the registry (the registry client). */
  hasManifest?: (ref: string, signal: AbortSignal) => Promise<boolean>
  noCache: boolean
  push: boolean
  platforms: string[]
  concurrency: number
  /** When not pushing: write each build's OCI archive to `<tempDir>/build-<n>.tar`. */
  ociArchives?: boolean
  /** Copies image services into the repository when pushing. */
  copyImage?: CopyImage
  /** Docker Hub or its mirror (the registry client copies docker.io images from it): for logs. */
  dockerHubRegistry?: string
  /** Build-arg names whose values are secret (kept off command lines where possible). */
  secretArgs?: string[]
  /** Reuse of unchanged builds (when pushing): checked per build before its BuildKit run. */
  reuse?: Reuse
  /** The services to build or copy (a fan-out leg's), tagged alone; undefined: all of them. */
  only?: string[]
  signal?: AbortSignal
}

export interface BuildsResult {
  builds: BuildResult[]
  services: ServiceReport[]
  warnings: string[]
  /** Build index to OCI archive path, when ociArchives was asked. */
  ociArchives: Record<number, string>
  /** Wall time of the whole run, and the part when at least one engine process ran. */
  wallMs: number
  engineMs: number
}

/** Union length of [start, end] intervals. */
function unionMs(intervals: Array<[number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0])
  let total = 0
  let end = -Infinity
  for (const [s, e] of sorted) {
    if (e <= end) continue
    total += e - Math.max(s, end)
    end = e
  }
  return total
}

/**
 * Push failures where the registry lost or mixed up a blob it was sent, not a mistake of the
 * build: distribution answers DIGEST_INVALID / BLOB_UNKNOWN / BLOB_UPLOAD_UNKNOWN then.
 */
export function isRegistryWriteRace(reason: string): boolean {
  return /provided digest did not match uploaded content|blob unknown|blob upload unknown|DIGEST_INVALID|BLOB_UNKNOWN|BLOB_UPLOAD_UNKNOWN/i.test(
    reason
  )
}

/**
 * The builds of a fan-out leg (every build when `only` is undefined), each with its plan index
 * and only the leg's services: a build shared with another leg is tagged here for these alone.
 */
export function legBuilds(
  plan: Plan,
  only: string[] | undefined
): Array<{ spec: BuildSpec; index: number }> {
  return plan.builds
    .map((b, index) => ({
      spec: { ...b, services: b.services.filter(s => !only || only.includes(s)) },
      index
    }))
    .filter(b => b.spec.services.length > 0)
}

/**
 * The builds whose previous build left a cache to read (its per-build tag): looked up once per
 * build before any runs; a lookup that fails counts as none (the shared tag is read then).
 */
async function previousCaches(
  o: BuildsOptions,
  mode: ResolvedCacheMode,
  plan: Plan,
  firstService: (index: number) => string,
  logger: Logger
): Promise<Set<number>> {
  const found = new Set<number>()
  const id = o.previousBuildId
  if (!id || !o.push || !o.hasManifest || o.noCache || o.cacheTags === 'mutable') return found
  const signal = o.signal ?? new AbortController().signal
  await Promise.all(
    legBuilds(plan, o.only).map(async ({ index }) => {
      const ref = previousCacheRef(mode, plan.registry, firstService(index), id)
      if (!ref) return
      try {
        if (await o.hasManifest!(ref, signal)) found.add(index)
      } catch (e) {
        logger.debug(`${ref}: not checked (${(e as Error).message}): reading the shared cache tag`)
      }
    })
  )
  return found
}

export async function runBuilds(o: BuildsOptions): Promise<BuildsResult> {
  const { plan, engine, run } = o
  const logger: Logger = run.logger
  const started = Date.now()
  const warnings: string[] = []
  const warn = (m: string): void => {
    warnings.push(m)
    logger.warning(m)
  }

  let mode = resolveCacheMode(o.cache, { push: o.push, github: run.github })
  if (!canExport(engine.driver, mode)) {
    warn(
      `the ${engine.description} cannot export the "${mode}" cache: using the inline cache instead (use a docker-container builder for the ${mode} cache)`
    )
    mode = 'inline'
  }
  const secretArgs = o.secretArgs ?? SECRET_ARGS
  const ci = await run.ci
  const wanted = (service: string): boolean => !o.only || o.only.includes(service)
  const byName = new Map(plan.services.map(s => [s.name, s]))
  const ociArchives: Record<number, string> = {}
  // The run's cache tags: `auto` starts mutable and turns immutable (once, for every build) at
  // the first refusal to overwrite a cache tag.
  const tagMode = o.cacheTags ?? 'auto'
  let cacheTags: CacheTagMode = tagMode
  const requestTags = new Map<number, CacheTagMode>()
  const firstService = (index: number): string =>
    plan.builds[index]?.services[0] ?? `build-${index}`
  const previous = await previousCaches(o, mode, plan, firstService, logger)
  const cacheFor = (index: number) =>
    cacheOptions(mode, firstService(index), {
      app: plan.app,
      registry: plan.registry,
      push: o.push,
      github: run.github,
      env: run.env,
      scope: ci?.scope,
      localCacheDir: run.localCacheDir,
      noCache: o.noCache,
      cacheTags,
      buildId: plan.buildId,
      ...(previous.has(index) ? { previousBuildId: o.previousBuildId } : {})
    })

  // A build's cache is named after its first service in the plan, whichever leg builds it.
  const requests: BuildRequest[] = legBuilds(plan, o.only).map(({ spec, index }) => {
    let output: BuildOutput = { type: 'none' }
    if (o.push) output = { type: 'push' }
    else if (o.ociArchives) {
      output = { type: 'oci', dest: path.join(run.tempDir, `build-${index}.tar`) }
      ociArchives[index] = output.dest
    }
    const cache = cacheFor(index)
    requestTags.set(index, cacheTags)
    return {
      index,
      spec,
      tags: [
        ...spec.services.map(s => byName.get(s)?.image ?? `${plan.app}:${s}.${plan.buildId}`),
        ...(cache.tags ?? [])
      ],
      output,
      cache,
      noCache: o.noCache,
      platforms: o.platforms,
      secrets: plan.secrets,
      // Values from the app's env are secret too: in the engine's environment, never its argv.
      secretArgs: [...secretArgs, ...(spec.secretArgs ?? [])],
      metadataFile: path.join(run.tempDir, `build-${index}.metadata.json`)
    }
  })
  const copies: PlannedService[] =
    o.push && o.copyImage
      ? plan.services.filter(s => s.build === null && s.from && wanted(s.name))
      : []
  if (o.push && !o.copyImage && plan.services.some(s => s.build === null)) {
    warn('image services were not copied into the repository: no registry client available')
  }

  const abort = new AbortController()
  const onOuterAbort = (): void => abort.abort()
  o.signal?.addEventListener('abort', onOuterAbort, { once: true })
  const intervals: Array<[number, number]> = []
  const results: BuildResult[] = []
  const copied = new Map<string, { digest: string; durationMs: number }>()
  let failure: Error | undefined

  // Without a cap every job starts at once: the copies then wait until each build is reused or
  // started, so that their registry traffic does not delay the reuse checks and the builds.
  // (With a cap a copy may hold a slot a queued build needs: it starts when its slot comes.)
  const gated = o.concurrency >= requests.length + copies.length
  const begun: Array<() => void> = []
  const buildsBegun = Promise.all(
    requests.map(() => new Promise<void>(resolve => begun.push(resolve)))
  )

  /** True when the build was reused; else its key tags are added to the push. */
  const reuseCheck = async (req: BuildRequest, who: string): Promise<boolean> => {
    const t0 = Date.now()
    const images = req.spec.services.map(s => byName.get(s)?.image ?? '')
    let d: ReuseDecision
    try {
      d = await o.reuse!.decide(req.spec, plan.registry, images, abort.signal)
    } catch (e) {
      if (abort.signal.aborted) throw e
      logger.info(`[${who}] reuse check failed, building: ${(e as Error).message}`)
      return false
    }
    if (d.note) logger.info(`[${who}] ${d.note}`)
    if (!d.reused) {
      if (d.reason) logger.info(`[${who}] not reused: ${d.reason}`)
      req.tags.push(...d.tags)
      return false
    }
    logger.info(`[${who}] unchanged (content key ${d.key}): reused ${d.from}, not built`)
    results.push({
      index: req.index,
      services: req.spec.services,
      digest: d.digest,
      cachedSteps: 0,
      totalSteps: 0,
      durationMs: Date.now() - t0,
      log: `reused ${d.from} (${d.digest}): content key ${d.key} unchanged`,
      warnings: [],
      reusedFrom: d.from
    })
    return true
  }

  /** Gives a request the run's cache tags when they changed since it was made. */
  const refreshCache = (req: BuildRequest): boolean => {
    if (requestTags.get(req.index) === cacheTags) return false
    const old = new Set(req.cache.tags ?? [])
    req.cache = cacheFor(req.index)
    req.tags = [...req.tags.filter(t => !old.has(t)), ...(req.cache.tags ?? [])]
    requestTags.set(req.index, cacheTags)
    return true
  }
  /**
   * The registry refused to overwrite a cache tag: with `auto`, every build of the run writes its
   * cache under a tag of its own from now on (one warning); false when the mode is forced.
   */
  const switchToPerBuildTags = (tag: string, why: string): boolean => {
    if (tagMode !== 'auto') return false
    if (cacheTags !== 'immutable') {
      cacheTags = 'immutable'
      warn(
        `the registry refuses to overwrite the cache tag ${tag} (${why}): writing the cache under ${registryCacheTag('<service>', ci?.scope, plan.buildId)} instead, as a rack with immutable tags (ecr_immutable_tags_enabled) does; set cache-tags: immutable to start that way`
      )
    }
    return true
  }
  const forcedMutable = (who: string, tag: string, why: string): void =>
    warn(
      `${who}: the registry refuses to overwrite the cache tag ${tag} (${why}), so this build's cache was not saved (the build succeeded); set cache-tags to auto or immutable for a cache tag per build`
    )

  /** One build: reused, or run (`onStart` just before BuildKit is), with its retries. */
  const buildJob = async (req: BuildRequest, onStart: () => void): Promise<void> => {
    const who = req.spec.services.join(', ')
    if (o.reuse && o.push && plan.registry) {
      const r = await reuseCheck(req, who)
      if (r) return
    }
    refreshCache(req)
    logger.info(`[${who}] building ${req.spec.context}/${req.spec.dockerfile}`)
    const t0 = Date.now()
    // The plan build's first service names the cache, not the leg's (see cacheFor).
    const first = firstService(req.index)
    const attempt = (): Promise<BuildResult> =>
      runBuild(engine, req, {
        exec: run.exec,
        env: { ...run.env, ...o.childEnv },
        signal: abort.signal,
        secrets: run.secrets,
        onStep: step =>
          logger.info(
            `[${who}] ${run.secrets.cut(step.name, 90)} ${step.error ? 'ERROR' : step.cached ? 'CACHED' : 'done'}`
          )
      })
    try {
      let r: BuildResult
      try {
        onStart()
        r = await attempt()
      } catch (e) {
        if (!(e instanceof BuildFailure) || abort.signal.aborted) throw e
        const inline = plan.registry ? inlineCacheRef(plan.registry, first, ci?.scope) : ''
        if (
          inline &&
          req.cache.tags?.includes(inline) &&
          isTagOverwriteRefusal(e.reason) &&
          e.reason.includes(inline.slice(inline.lastIndexOf(':') + 1)) &&
          switchToPerBuildTags(inline, e.reason)
        ) {
          // The image's push failed on its shared inline-cache tag: push it without it.
          refreshCache(req)
          logger.info(`[${who}] pushing again without ${inline}`)
          r = await attempt()
        } else if (isRegistryWriteRace(e.reason)) {
          // The registry lost a blob it had taken (two writers of one blob): the build itself
          // is done and cached in BuildKit, so running it again only repeats the push.
          warn(`${who}: the registry garbled the push (${e.reason}); pushing again once`)
          r = await attempt()
        } else throw e
      }
      if (r.cacheTagRefused) {
        const tag = registryCacheRef(plan.registry, first, undefined, ci?.scope)
        if (switchToPerBuildTags(tag, r.cacheTagRefused) && refreshCache(req)) {
          // BuildKit has every step of this build: running it again only exports the cache.
          logger.info(
            `[${who}] exporting the cache again under ${registryCacheRef(plan.registry, first, plan.buildId, ci?.scope)} (the build is in BuildKit's cache: only the cache export runs)`
          )
          const perBuild = registryCacheRef(plan.registry, first, plan.buildId, ci?.scope)
          let note = `exported again under ${perBuild}`
          try {
            const again = await attempt()
            r.durationMs += again.durationMs
            r.warnings.push(...again.warnings)
            if (again.cacheTagRefused) r.warnings.push(`${who}: ${again.cacheTagRefused}`)
          } catch (e) {
            // The image is pushed already: only this cache is lost.
            if (!(e instanceof BuildFailure) || abort.signal.aborted) throw e
            r.warnings.push(`${who}: the cache was not saved under ${perBuild}: ${e.reason}`)
            note = `not saved under ${perBuild}: ${e.reason}`
          }
          r.log = `${r.log.trimEnd()}\ncache: ${tag} refused (immutable tags); ${note}\n`
          delete r.cacheTagRefused
        } else if (tagMode === 'mutable') forcedMutable(who, tag, r.cacheTagRefused)
        else warn(`${who}: ${r.cacheTagRefused} (the build succeeded)`)
      }
      results.push(r)
      for (const w of r.warnings) warn(w)
      await logger.group(
        `Build ${who}: ${r.cachedSteps}/${r.totalSteps} steps cached, ${(r.durationMs / 1000).toFixed(1)}s`,
        async () => logger.info(r.log)
      )
    } catch (e) {
      if (e instanceof BuildFailure && !abort.signal.aborted) {
        await logger.group(`Build ${who}: failed`, async () => logger.info(e.log))
      }
      throw e
    } finally {
      intervals.push([t0, Date.now()])
    }
  }

  type Job = () => Promise<void>
  const jobs: Job[] = [
    ...requests.map((req, n) => async () => {
      try {
        await buildJob(req, begun[n]!)
      } finally {
        begun[n]!()
      }
    }),
    ...copies.map(s => async () => {
      if (gated) await buildsBegun
      // a build failed meanwhile: nothing more starts
      if (abort.signal.aborted) return
      const from = s.from ?? ''
      const t0 = Date.now()
      const hub =
        o.dockerHubRegistry && o.dockerHubRegistry !== 'docker.io'
          ? ` (Docker Hub images via ${o.dockerHubRegistry})`
          : ''
      logger.info(`[${s.name}] copying ${from} to ${s.image}${hub}`)
      try {
        const c = await o.copyImage!(from, s.image, abort.signal, o.platforms)
        if (c.missing.length > 0) {
          warn(
            `${s.name}: ${from} has no ${c.missing.join(', ')} image: copied ${c.platforms.join(', ') || 'the image it has'}`
          )
        }
        copied.set(s.name, { digest: c.digest, durationMs: Date.now() - t0 })
      } catch (e) {
        throw new BuildFailure([s.name], `copying ${from}: ${(e as Error).message}`, '')
      }
    })
  ]

  try {
    await forEachLimit(
      jobs,
      o.concurrency,
      async job => {
        try {
          await job()
        } catch (e) {
          // The first failure is the cause; the others are the aborted builds.
          failure ??= e as Error
          abort.abort()
        }
      },
      abort.signal
    )
  } finally {
    o.signal?.removeEventListener('abort', onOuterAbort)
  }
  throwIfCancelled(o.signal)
  if (failure) throw failure

  results.sort((a, b) => a.index - b.index)
  const services: ServiceReport[] = plan.services
    .filter(s => wanted(s.name))
    .map(s => {
      const r = s.build === null ? undefined : results.find(x => x.index === s.build)
      const c = copied.get(s.name)
      return {
        name: s.name,
        image: s.image,
        digest: r?.digest ?? c?.digest ?? '',
        build: s.build,
        sharedWith: r ? r.services.filter(n => n !== s.name) : [],
        cachedSteps: r?.cachedSteps ?? 0,
        totalSteps: r?.totalSteps ?? 0,
        durationMs: r?.durationMs ?? c?.durationMs ?? 0,
        ...(r?.reusedFrom ? { reusedFrom: r.reusedFrom } : {})
      }
    })
  return {
    builds: results,
    services,
    warnings,
    ociArchives,
    wallMs: Date.now() - started,
    engineMs: unionMs(intervals)
  }
}
