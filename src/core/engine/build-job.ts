// One build of the plan as a job of the run: reused when its content key is unchanged
// (src/core/reuse), else run by the engine with the retries of ./build-retries.ts, its whole log
// printed in one group at the end (parallel builds' groups never interleave). What it shares with
// the run's other jobs comes in a BuildJobContext: the cache-tag policy, the abort signal and the
// warnings.
import path from 'node:path'
import type { Logger } from '../log.js'
import type { BuildSpec, Plan } from '../plan.js'
import type { Reuse, ReuseDecision } from '../reuse/index.js'
import type { RunEnvironment } from '../run-environment.js'
import { afterCacheRefusal, retryAfterFailure } from './build-retries.js'
import type { CachePolicy } from './cache-policy.js'
import type { BuildCheck } from './progress.js'
import { BuildFailure, runBuild } from './run-build.js'
import type { BuildOutput, BuildRequest, BuildResult, Engine } from './types.js'

export interface RequestOptions {
  plan: Plan
  run: Pick<RunEnvironment, 'tempDir'>
  cache: CachePolicy
  push: boolean
  /** When not pushing: write the build's OCI archive to `<tempDir>/build-<n>.tar`. */
  ociArchives?: boolean
  noCache: boolean
  buildChecks?: BuildRequest['buildChecks']
  platforms: string[]
  /** Build-arg names whose values are secret. */
  secretArgs: string[]
}

/** The engine's request for a build of the plan (`spec` holds the leg's services only). */
export function buildRequest(spec: BuildSpec, index: number, o: RequestOptions): BuildRequest {
  const { plan, run } = o
  let output: BuildOutput = { type: 'none' }
  if (o.push) output = { type: 'push' }
  else if (o.ociArchives) {
    output = { type: 'oci', dest: path.join(run.tempDir, `build-${index}.tar`) }
  }
  const cache = o.cache.options(index)
  const image = (s: string): string =>
    plan.services.find(p => p.name === s)?.image ?? `${plan.app}:${s}.${plan.buildId}`
  return {
    index,
    spec,
    tags: [...spec.services.map(image), ...(cache.tags ?? [])],
    output,
    cache,
    noCache: o.noCache,
    platforms: o.platforms,
    secrets: plan.secrets,
    // Values from the app's env are secret too: in the engine's environment, never its argv.
    secretArgs: [...o.secretArgs, ...(spec.secretArgs ?? [])],
    metadataFile: path.join(run.tempDir, `build-${index}.metadata.json`),
    ...(o.buildChecks ? { buildChecks: o.buildChecks } : {})
  }
}

export interface BuildJobContext {
  plan: Plan
  engine: Engine
  run: RunEnvironment
  /** Private docker config env (DOCKER_CONFIG, BUILDX_CONFIG) for the engine processes. */
  childEnv: Record<string, string>
  cache: CachePolicy
  /** Reuse of unchanged builds: given when pushing to a registry. */
  reuse?: Reuse
  /** The run's: aborted at its first failure. */
  signal: AbortSignal
  warn: (message: string) => void
  /** A Dockerfile check of a build (said once per run). */
  check: (check: BuildCheck) => void
}

export interface BuildJobResult {
  result: BuildResult
  /** When the engine ran (none for a reused build). */
  engine?: [number, number]
}

/** One build: reused, or run (`onStart` just before BuildKit is), with its retries. */
export async function buildJob(
  req: BuildRequest,
  ctx: BuildJobContext,
  onStart: () => void
): Promise<BuildJobResult> {
  const { run, signal } = ctx
  const logger: Logger = run.logger
  const who = req.spec.services.join(', ')
  if (ctx.reuse) {
    const reused = await reuseCheck(req, who, ctx.reuse, ctx)
    if (reused) return { result: reused }
  }
  ctx.cache.refresh(req)
  logger.info(`[${who}] building ${req.spec.context}/${req.spec.dockerfile}`)
  const t0 = Date.now()
  const attempt = (): Promise<BuildResult> =>
    runBuild(ctx.engine, req, {
      exec: run.exec,
      env: { ...run.env, ...ctx.childEnv },
      signal,
      secrets: run.secrets,
      workingDirectory: ctx.plan.workingDirectory,
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
      if (!(e instanceof BuildFailure) || signal.aborted) throw e
      const retry = retryAfterFailure(e, req, ctx.cache)
      if (!retry) throw e
      if (retry.rule === 'inline tag refused') {
        logger.info(`[${who}] pushing again without ${retry.tag}`)
      } else {
        // The build itself is done and cached in BuildKit: running it again only repeats the push.
        ctx.warn(`${who}: the registry garbled the push (${e.reason}); pushing again once`)
      }
      r = await attempt()
    }
    if (req.reuseKey) r.reuseKey = req.reuseKey
    if (r.cacheTagRefused) await exportCacheAgain(r, r.cacheTagRefused, req, who, attempt, ctx)
    for (const w of r.warnings) ctx.warn(w)
    for (const c of r.checks ?? []) ctx.check(c)
    await logger.group(
      `Build ${who}: ${r.cachedSteps}/${r.totalSteps} steps cached, ${(r.durationMs / 1000).toFixed(1)}s`,
      async () => logger.info(r.log)
    )
    return { result: r, engine: [t0, Date.now()] }
  } catch (e) {
    if (e instanceof BuildFailure && !signal.aborted) {
      await logger.group(`Build ${who}: failed`, async () => logger.info(e.log))
    }
    throw e
  }
}

/** The third retry rule: a refused cache export exported again under the per-build tag. */
async function exportCacheAgain(
  r: BuildResult,
  refused: string,
  req: BuildRequest,
  who: string,
  attempt: () => Promise<BuildResult>,
  ctx: BuildJobContext
): Promise<void> {
  const next = afterCacheRefusal(refused, req, ctx.cache, who)
  if ('warning' in next) {
    ctx.warn(next.warning)
    return
  }
  const { perBuild } = next
  // BuildKit has every step of this build: running it again only exports the cache.
  ctx.run.logger.info(
    `[${who}] exporting the cache again under ${perBuild} (the build is in BuildKit's cache: only the cache export runs)`
  )
  let note = `exported again under ${perBuild}`
  try {
    const again = await attempt()
    r.durationMs += again.durationMs
    r.warnings.push(...again.warnings)
    if (again.cacheTagRefused) r.warnings.push(`${who}: ${again.cacheTagRefused}`)
  } catch (e) {
    // The image is pushed already: only this cache is lost.
    if (!(e instanceof BuildFailure) || ctx.signal.aborted) throw e
    r.warnings.push(`${who}: the cache was not saved under ${perBuild}: ${e.reason}`)
    note = `not saved under ${perBuild}: ${e.reason}`
  }
  r.log = `${r.log.trimEnd()}\ncache: ${next.tag} refused (immutable tags); ${note}\n`
  delete r.cacheTagRefused
}

/** The reused build's result; undefined when it must be built (its key tags added to the push). */
async function reuseCheck(
  req: BuildRequest,
  who: string,
  reuse: Reuse,
  ctx: BuildJobContext
): Promise<BuildResult | undefined> {
  const { plan } = ctx
  const logger = ctx.run.logger
  const t0 = Date.now()
  const images = req.spec.services.map(s => plan.services.find(p => p.name === s)?.image ?? '')
  let d: ReuseDecision
  try {
    d = await reuse.decide(req.spec, plan.registry, images, ctx.signal)
  } catch (e) {
    if (ctx.signal.aborted) throw e
    logger.info(`[${who}] reuse check failed, building: ${(e as Error).message}`)
    return undefined
  }
  if (d.note) logger.info(`[${who}] ${d.note}`)
  if (!d.reused) {
    if (d.reason) logger.info(`[${who}] not reused: ${d.reason}`)
    req.tags.push(...d.tags)
    if (d.key) req.reuseKey = d.key
    return undefined
  }
  logger.info(`[${who}] unchanged (content key ${d.key}): reused ${d.from}, not built`)
  return {
    index: req.index,
    services: req.spec.services,
    digest: d.digest,
    cachedSteps: 0,
    totalSteps: 0,
    durationMs: Date.now() - t0,
    log: `reused ${d.from} (${d.digest}): content key ${d.key} unchanged`,
    warnings: [],
    reusedFrom: d.from,
    reuseKey: d.key
  }
}
