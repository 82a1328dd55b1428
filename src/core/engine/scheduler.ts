// Runs a plan's builds: distinct builds concurrently (up to `concurrency`), each once and tagged
// for all its services, or reused when its content key is unchanged (src/core/reuse); image
// services copied into the repository. The first failure aborts the
// rest and is reported as one line naming the service(s) and BuildKit's reason.
//
// Logging: while builds run, each completed Dockerfile step prints one line prefixed by the
// build's services (parallel builds interleave line by line, each line says whose it is); when a
// build ends, its whole log is printed in one group, so groups never interleave.
import path from 'node:path'
import type { Logger } from '../log.js'
import type { Plan, PlannedService } from '../plan.js'
import type { Reuse, ReuseDecision } from '../reuse/index.js'
import type { RunEnvironment, ServiceReport } from '../run.js'
import type { CacheMode } from '../settings.js'
import { cacheOptions, canExport, resolveCacheMode } from './cache.js'
import { throwIfCancelled } from '../interrupt.js'
import { forEachLimit } from '../pool.js'
import { BuildFailure, runBuild } from './run-build.js'
import type { BuildOutput, BuildRequest, BuildResult, Engine } from './types.js'

/** Copies an image registry to registry; returns the pushed digest (the registry client). */
export type CopyImage = (from: string, to: string, signal: AbortSignal) => Promise<string>

export interface BuildsOptions {
  plan: Plan
  engine: Engine
  run: RunEnvironment
  /** Private docker config env (DOCKER_CONFIG, BUILDX_CONFIG) for the engine processes. */
  childEnv: Record<string, string>
  cache: CacheMode
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
  const secretArgs = o.secretArgs ?? ['BUILD_AUTH']
  const wanted = (service: string): boolean => !o.only || o.only.includes(service)
  const byName = new Map(plan.services.map(s => [s.name, s]))
  const ociArchives: Record<number, string> = {}

  // A build shared with services of another leg is tagged here only for this leg's services.
  const selected = plan.builds
    .map((b, index) => ({ spec: { ...b, services: b.services.filter(wanted) }, index }))
    .filter(b => b.spec.services.length > 0)
  const requests: BuildRequest[] = selected.map(({ spec, index }) => {
    // Named after the build's first service in the plan, whichever leg builds it.
    const first = plan.builds[index]?.services[0] ?? `build-${index}`
    let output: BuildOutput = { type: 'none' }
    if (o.push) output = { type: 'push' }
    else if (o.ociArchives) {
      output = { type: 'oci', dest: path.join(run.tempDir, `build-${index}.tar`) }
      ociArchives[index] = output.dest
    }
    const cache = cacheOptions(mode, first, {
      app: plan.app,
      registry: plan.registry,
      push: o.push,
      github: run.github,
      env: run.env,
      localCacheDir: run.localCacheDir,
      noCache: o.noCache
    })
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
      secretArgs,
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

  type Job = () => Promise<void>
  const jobs: Job[] = [
    ...requests.map(req => async () => {
      const who = req.spec.services.join(', ')
      if (o.reuse && o.push && plan.registry) {
        const r = await reuseCheck(req, who)
        if (r) return
      }
      logger.info(`[${who}] building ${req.spec.context}/${req.spec.dockerfile}`)
      const t0 = Date.now()
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
          r = await attempt()
        } catch (e) {
          // The registry lost a blob it had taken (two writers of one blob): the build itself is
          // done and cached in BuildKit, so running it again only repeats the push.
          if (
            !(e instanceof BuildFailure) ||
            !isRegistryWriteRace(e.reason) ||
            abort.signal.aborted
          )
            throw e
          warn(`${who}: the registry garbled the push (${e.reason}); pushing again once`)
          r = await attempt()
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
    }),
    ...copies.map(s => async () => {
      const from = s.from ?? ''
      const t0 = Date.now()
      const hub =
        o.dockerHubRegistry && o.dockerHubRegistry !== 'docker.io'
          ? ` (Docker Hub images via ${o.dockerHubRegistry})`
          : ''
      logger.info(`[${s.name}] copying ${from} to ${s.image}${hub}`)
      try {
        const digest = await o.copyImage!(from, s.image, abort.signal)
        copied.set(s.name, { digest, durationMs: Date.now() - t0 })
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
