// Runs one engine process for one build: progress parsed from rawjson, digest from the
// metadata file, local cache rotated, a cache export failure turned into a warning.
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { BuildError, EXIT_CODES, RemoteError, UserError, type Problem } from '../errors.js'
import type { Exec } from '../exec.js'
import type { Redactor } from '../secrets.js'
import { isTagOverwriteRefusal } from './cache.js'
import { installLocalCache, prepareLocalCache, releaseLocalCache } from './local-cache.js'
import { ProgressReader, type BuildCheck, type Step } from './progress.js'
import type { BuildRequest, BuildResult, Engine } from './types.js'

export interface RunBuildContext {
  exec: Exec
  /** Environment for the child (process env + private docker config). */
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
  /** A Dockerfile step completed (for a one-line progress). */
  onStep?: (step: Step) => void
  /** The run's secrets: the build's secret values are added before anything is printed. */
  secrets: Redactor
  /** Absolute working directory: build checks name their Dockerfile relative to it. */
  workingDirectory?: string
}

/**
 * One build that ran and failed: `reason` is BuildKit's most meaningful error line. Usually a
 * mistake in the user's Dockerfile or code, so one line without a stack (exit code 2); the log
 * goes on to the rack's record.
 */
export class BuildFailure extends BuildError {
  /** A build's own failure is 2; a failure that only came through it (a copy) keeps its kind. */
  override readonly exitCode: number

  constructor(
    readonly services: string[],
    readonly reason: string,
    readonly log: string,
    options: {
      /** Instead of the one line: the problems that failed it (build checks with `error`). */
      problems?: Problem[]
      /** What failed it when not BuildKit (an image copy's registry): its kind is kept. */
      cause?: unknown
    } = {}
  ) {
    super(
      options.problems ??
        `build of ${services.join(', ')} failed: ${reason.replace(/\s*\n\s*/g, ' ')}`
    )
    this.name = 'BuildFailure'
    const { cause } = options
    this.exitCode =
      cause instanceof RemoteError || cause instanceof UserError ? cause.exitCode : EXIT_CODES.build
  }
}

/** Reads `containerimage.digest` from a --metadata-file ('' when absent). */
export async function readMetadataDigest(file: string): Promise<string> {
  try {
    const meta = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
    const d = meta['containerimage.digest']
    return typeof d === 'string' ? d : ''
  } catch {
    return ''
  }
}

/** BuildKit's steps that export the cache (a missing cache to import is normal: not these). */
export function isCacheExport(stepName: string): boolean {
  return /^(exporting cache|exporting to GitHub Actions Cache|preparing build cache for export|writing cache)/i.test(
    stepName
  )
}

export async function runBuild(
  engine: Engine,
  req: BuildRequest,
  ctx: RunBuildContext
): Promise<BuildResult> {
  const local = req.cache.local
  if (!local) return runEngine(engine, req, ctx)
  await prepareLocalCache(local)
  try {
    return await runEngine(engine, req, ctx)
  } finally {
    await releaseLocalCache(local)
  }
}

async function runEngine(
  engine: Engine,
  req: BuildRequest,
  ctx: RunBuildContext
): Promise<BuildResult> {
  const cmd = engine.command(req)
  for (const v of Object.values(cmd.env)) ctx.secrets.add(v)
  for (const n of req.secretArgs) ctx.secrets.add(req.spec.argValues[n])
  await rm(req.metadataFile, { force: true })
  const progress = new ProgressReader(ctx.onStep, ctx.secrets)
  const started = Date.now()
  const result = await ctx.exec(cmd.command, cmd.args, {
    env: { ...ctx.env, ...cmd.env },
    signal: ctx.signal,
    onStderrLine: l => progress.push(l),
    onStdoutLine: l => progress.push(l)
  })
  const durationMs = Date.now() - started
  const log = progress.text()
  const services = req.spec.services
  const checks = progress.checks.map(c => checkAt(c, req.spec.dockerfilePath, ctx.workingDirectory))
  if (result.exitCode !== 0) {
    const reason = progress.errorMessage() || `${cmd.command} exited with code ${result.exitCode}`
    // build-checks error, or the Dockerfile's own `# check=error=true`: BuildKit refused before
    // any step ran ("lint violation found for rules: ...").
    const failedChecks = checks.length > 0 && /lint violation found/i.test(reason)
    throw new BuildFailure(services, reason, log, {
      problems: failedChecks ? checks.map(checkProblem) : undefined
    })
  }
  const warnings = [...progress.warnings]
  // With ignore-error=true a failed cache export only shows as a failed vertex; a registry that
  // refuses to overwrite the cache tag is the caller's to handle (immutable tags).
  let cacheTagRefused: string | undefined
  for (const s of progress.failedSteps()) {
    if (!isCacheExport(s.name)) continue
    if (isTagOverwriteRefusal(s.error ?? '')) cacheTagRefused ??= `${s.name}: ${s.error}`
    else warnings.push(`${services.join(', ')}: ${s.name} failed: ${s.error} (the build succeeded)`)
  }
  if (req.cache.local) {
    // BuildKit cannot export to the directory it imports from: the new cache goes in its place.
    try {
      await installLocalCache(req.cache.local)
    } catch (e) {
      warnings.push(`${services.join(', ')}: local cache not saved: ${(e as Error).message}`)
    }
  }
  return {
    index: req.index,
    services,
    digest: await readMetadataDigest(req.metadataFile),
    ...progress.counts(),
    durationMs,
    log,
    warnings,
    checks,
    ...(cacheTagRefused ? { cacheTagRefused } : {})
  }
}

/** The check with its Dockerfile relative to the working directory (BuildKit knows a base name). */
export function checkAt(
  check: BuildCheck,
  dockerfile: string,
  workingDirectory?: string
): BuildCheck {
  if (!workingDirectory || check.source !== path.basename(dockerfile)) return check
  const file = path.relative(workingDirectory, dockerfile).split(path.sep).join('/')
  return file.startsWith('../') ? check : { ...check, file }
}

/** A check as a problem at its line: `Dockerfile:2: SecretsUsedInArgOrEnv: ...`. */
export function checkProblem(c: BuildCheck): Problem {
  // Without its file, the line goes in the text.
  const at = !c.file && c.line ? ` (line ${c.line})` : ''
  const message = `${c.rule ? `${c.rule}: ` : ''}${c.message}${at}${c.url ? ` (${c.url})` : ''}`
  return {
    message,
    ...(c.file ? { file: c.file } : {}),
    ...(c.file && c.line ? { line: c.line } : {}),
    ...(c.rule ? { title: c.rule } : {})
  }
}
