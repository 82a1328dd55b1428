// Runs a plan's builds on the pool (src/core/pool.ts): distinct builds concurrently (up to
// `concurrency`), each once and tagged for all its services (./build-job.ts), and the image
// services' copies (./image-copies.ts), with one cache-tag policy for the run
// (./cache-policy.ts). The first failure aborts the rest and is reported as one line naming the
// service(s) and BuildKit's reason.
//
// Logging: while builds run, each completed Dockerfile step prints one line prefixed by the
// build's services (parallel builds interleave line by line, each line says whose it is); when a
// build ends, its whole log is printed in one group, so groups never interleave.
import { SECRET_ARGS } from '../build-auth.js'
import { throwIfCancelled } from '../interrupt.js'
import type { BuildSpec, Plan } from '../plan.js'
import { forEachLimit } from '../pool.js'
import type { Reuse } from '../reuse/index.js'
import type { RunEnvironment, ServiceReport } from '../run-environment.js'
import type { CacheMode, CacheTagMode } from '../settings.js'
import { buildJob, buildRequest, type BuildJobContext } from './build-job.js'
import { cachePolicy, exportableCacheMode } from './cache-policy.js'
import { copyImageService, imageCopies, type CopyImage, type CopyResult } from './image-copies.js'
import type { BuildResult, Engine } from './types.js'
import { sameCheck, type BuildCheck } from './progress.js'
import { checkProblem } from './run-build.js'
import type { BuildCheckMode } from '../settings.js'

export type { CopiedImage, CopyImage } from './image-copies.js'

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
  /** BuildKit's Dockerfile checks (default warn). */
  buildChecks?: BuildCheckMode
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
  /** BuildKit's Dockerfile checks of the builds, each once (also logged as warnings). */
  checks: BuildCheck[]
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

/** The leg's builds and copies; each job's state (the cache policy, the abort) passed to it. */
export async function runBuilds(o: BuildsOptions): Promise<BuildsResult> {
  const { plan, engine, run } = o
  const logger = run.logger
  const started = Date.now()
  const warnings: string[] = []
  const warn = (m: string): void => {
    warnings.push(m)
    logger.warning(m)
  }
  const checks: BuildCheck[] = []
  // Builds of one Dockerfile (targets, a leg's platforms) repeat its checks: each is said once.
  const check = (c: BuildCheck): void => {
    if (checks.some(k => sameCheck(k, c))) return
    checks.push(c)
    const { message, ...where } = checkProblem(c)
    logger.warning(message, where)
  }
  const where = { push: o.push, github: run.github }
  const mode = exportableCacheMode(o.cache, engine, where, warn)
  const ci = await run.ci
  const wanted = (service: string): boolean => !o.only || o.only.includes(service)
  const legs = legBuilds(plan, o.only)
  const cache = await cachePolicy(mode, {
    ...where,
    plan,
    cacheTags: o.cacheTags,
    noCache: o.noCache,
    env: run.env,
    localCacheDir: run.localCacheDir,
    scope: ci?.scope,
    previousBuildId: o.previousBuildId,
    hasManifest: o.hasManifest,
    builds: legs.map(b => b.index),
    logger,
    warn,
    signal: o.signal
  })
  const secretArgs = o.secretArgs ?? SECRET_ARGS
  const requests = legs.map(({ spec, index }) =>
    buildRequest(spec, index, {
      plan,
      run,
      cache,
      push: o.push,
      ociArchives: o.ociArchives,
      noCache: o.noCache,
      buildChecks: o.buildChecks,
      platforms: o.platforms,
      secretArgs
    })
  )
  const ociArchives: Record<number, string> = {}
  for (const r of requests) if (r.output.type === 'oci') ociArchives[r.index] = r.output.dest
  const copies = imageCopies(plan, wanted, o.push, o.copyImage, warn)

  const abort = new AbortController()
  const job: BuildJobContext = {
    plan,
    engine,
    run,
    childEnv: o.childEnv,
    cache,
    ...(o.reuse && o.push && plan.registry ? { reuse: o.reuse } : {}),
    signal: abort.signal,
    warn,
    check
  }
  const intervals: Array<[number, number]> = []
  const results: BuildResult[] = []
  const copied = new Map<string, CopyResult>()
  await runOnPool(
    requests.map(req => async onStart => {
      const r = await buildJob(req, job, onStart)
      results.push(r.result)
      if (r.engine) intervals.push(r.engine)
    }),
    // (no copies without a registry client)
    copies.map(s => async () => {
      const { copyImage, platforms, dockerHubRegistry } = o
      const copy = { copyImage: copyImage!, platforms, dockerHubRegistry, logger, warn }
      copied.set(s.name, await copyImageService(s, { ...copy, signal: abort.signal }))
    }),
    { concurrency: o.concurrency, abort, signal: o.signal }
  )

  results.sort((a, b) => a.index - b.index)
  return {
    builds: results,
    services: serviceReports(plan, wanted, results, copied),
    warnings,
    checks,
    ociArchives,
    wallMs: Date.now() - started,
    engineMs: unionMs(intervals)
  }
}

/**
 * Runs the build jobs and the copies on the pool, at most `concurrency` at once. The first
 * failure aborts `abort` (no new job starts, the running ones stop) and is thrown once every
 * started job has ended; a cancelled run (`signal`) throws its cancellation.
 */
async function runOnPool(
  builds: Array<(onStart: () => void) => Promise<void>>,
  copies: Array<() => Promise<void>>,
  o: { concurrency: number; abort: AbortController; signal?: AbortSignal }
): Promise<void> {
  const { abort } = o
  const onOuterAbort = (): void => abort.abort()
  o.signal?.addEventListener('abort', onOuterAbort, { once: true })
  let failure: Error | undefined
  // Without a cap every job starts at once: the copies then wait until each build is reused or
  // started, so that their registry traffic does not delay the reuse checks and the builds.
  // (With a cap a copy may hold a slot a queued build needs: it starts when its slot comes.)
  const gated = o.concurrency >= builds.length + copies.length
  const begun: Array<() => void> = []
  const buildsBegun = Promise.all(
    builds.map(() => new Promise<void>(resolve => begun.push(resolve)))
  )
  const jobs: Array<() => Promise<void>> = [
    ...builds.map((build, n) => async () => {
      try {
        await build(begun[n]!)
      } finally {
        begun[n]!()
      }
    }),
    ...copies.map(copy => async () => {
      if (gated) await buildsBegun
      // a build failed meanwhile: nothing more starts
      if (abort.signal.aborted) return
      await copy()
    })
  ]
  try {
    await forEachLimit(
      jobs,
      o.concurrency,
      async next => {
        try {
          await next()
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
}

/** Each wanted service's report: its build's, or its copy's. */
function serviceReports(
  plan: Plan,
  wanted: (service: string) => boolean,
  results: BuildResult[],
  copied: Map<string, CopyResult>
): ServiceReport[] {
  return plan.services
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
        ...(r?.reusedFrom ? { reusedFrom: r.reusedFrom } : {}),
        ...(r?.reuseKey ? { reuseKey: r.reuseKey } : {})
      }
    })
}
