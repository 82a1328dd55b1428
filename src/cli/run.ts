import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import { isUserError } from '../core/errors.js'
import { spawnExec, type Exec } from '../core/exec.js'
import { Cancelled, watchInterrupts } from '../core/interrupt.js'
import { runPipeline, type PipelineResult } from '../core/pipeline.js'
import type { RunEnvironment } from '../core/run.js'
import { addEnvironmentSecrets, addInputSecrets, Redactor } from '../core/secrets.js'
import { addSettingsSecrets, readSettings } from '../core/settings.js'
import { parseArgs, settingsReader, type ParsedArgs } from './args.js'
import { helpText } from './help.js'
import { createCliLogger, formatCliProblem, type CliLogger } from './logger.js'

export interface CliIO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  env: NodeJS.ProcessEnv
  cwd: string
  exec?: Exec
  /** The pipeline to run (default runPipeline); unit tests of the output pass their own. */
  pipeline?: typeof runPipeline
  /** Listen for SIGINT/SIGTERM (default true; unit tests of the output turn it off). */
  signals?: boolean
}

/** Runs `convox-build <argv>`; returns the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const debug = argv.includes('--debug') || io.env.CONVOX_BUILD_DEBUG === 'true'
  const secrets = new Redactor()
  addEnvironmentSecrets(secrets, io.env)
  const logger = createCliLogger(io.stderr, { debug, secrets })
  let args: ParsedArgs
  try {
    args = parseArgs(argv)
  } catch (e) {
    return failed(e, logger, debug)
  }
  if (args.version) {
    io.stdout(`${packageVersion()}\n`)
    return 0
  }
  if (args.help || args.command === undefined) {
    ;(args.help ? io.stdout : io.stderr)(helpText())
    return args.help ? 0 : 1
  }

  let tempDir = ''
  const interrupts =
    io.signals === false
      ? undefined
      : watchInterrupts({ report: e => logger.line(`error: ${(e as Error)?.message ?? e}`) })
  try {
    const overrides: Record<string, string> = args.command === 'plan' ? { 'dry-run': 'true' } : {}
    // Secrets as given are scrubbed before anything is parsed (a bad input message may quote).
    const read = settingsReader(args, io.env, overrides)
    addInputSecrets(secrets, read)

    const settings = readSettings(read, { env: io.env, cwd: io.cwd })
    addSettingsSecrets(secrets, settings)
    tempDir = await mkdtemp(path.join(tmpdir(), 'convox-build-'))
    const run: RunEnvironment = {
      env: io.env,
      logger,
      exec: io.exec ?? spawnExec,
      github: io.env.GITHUB_ACTIONS === 'true',
      tempDir,
      localCacheDir: localCacheDir(io.env, settings.app),
      secrets,
      signal: interrupts?.signal
    }
    const result = await (io.pipeline ?? runPipeline)(settings, run)
    const out = (text: string): void => io.stdout(logger.scrub(text))
    if (args.json) out(JSON.stringify(result, null, 2) + '\n')
    else if (args.command === 'plan') out(JSON.stringify(result.plan, null, 2) + '\n')
    else if (args.id) out(`${result.releaseId}\n`)
    else {
      for (const l of serviceLines(result)) logger.line(l)
      out(finalLines(result))
    }
    return 0
  } catch (e) {
    const cancelled = interrupts?.reason()
    if (cancelled) {
      logger.line(`error: ${cancelled.message}`)
      return cancelled.exitCode
    }
    return failed(e, logger, debug)
  } finally {
    if (tempDir) await rm(tempDir, { recursive: true, force: true }).catch(() => undefined)
    interrupts?.dispose()
  }
}

/** One line per service: name, image and digest, aligned; and the image a reused one came from. */
export function serviceLines(result: PipelineResult): string[] {
  const width = Math.max(0, ...result.services.map(s => s.name.length))
  return result.services.map(s => {
    const digest = s.digest ? `  ${s.digest}` : ''
    const reused = s.reusedFrom ? `  (reused from ${s.reusedFrom})` : ''
    return `${s.name.padEnd(width)}  ${s.image}${digest}${reused}`
  })
}

/** The closing lines of `convox build`. */
export function finalLines(result: PipelineResult): string {
  return `Build:   ${result.buildId}\nRelease: ${result.releaseId}\n`
}

function failed(e: unknown, logger: CliLogger, debug: boolean): number {
  if (e instanceof Cancelled) {
    logger.line(`error: ${e.message}`)
    return e.exitCode
  }
  if (isUserError(e)) {
    for (const p of e.problems) logger.line(formatCliProblem(p))
    return 1
  }
  const err = e instanceof Error ? e : new Error(String(e))
  logger.line(`error: ${err.message}`)
  if (debug && err.stack) logger.line(err.stack)
  return 1
}

/** BuildKit's `local` cache between runs on this machine. */
function localCacheDir(env: NodeJS.ProcessEnv, app: string): string {
  const base = env.XDG_CACHE_HOME || path.join(homedir(), '.cache')
  return path.join(base, 'convox-build', app)
}

/** The version of the package whose script runs (bin/convox-build.js, dist/cli.js). */
export function packageVersion(): string {
  // From the script path, not import.meta.url: the bundler would copy a directory it can see.
  let dir = path.dirname(realpathSync(process.argv[1] ?? '.'))
  for (;;) {
    const file = path.join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'convox-build' && pkg.version) return pkg.version
    }
    const parent = path.dirname(dir)
    if (parent === dir) return 'unknown'
    dir = parent
  }
}
