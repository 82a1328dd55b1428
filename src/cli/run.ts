import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import type { Finding } from './code-quality.js'
import { ciOf } from '../ci/context.js'
import { onActionsRunner } from '../ci/github.js'
import { idTokenSource } from '../ci/id-token.js'
import { ADAPTERS, CI_SECRET_VARIABLES, projectDirOf } from '../ci/index.js'
import { exitCodeOf, isReported, isUserError, UserError, type Problem } from '../core/errors.js'
import { spawnExec, type Exec } from '../core/exec.js'
import { Cancelled, watchInterrupts } from '../core/interrupt.js'
import { runPipeline, type PipelineResult } from '../core/pipeline/index.js'
import type { RunEnvironment } from '../core/run-environment.js'
import { makeRunTempDir } from '../core/run-owner.js'
import {
  addEnvironmentSecrets,
  addInputSecrets,
  Redactor,
  SECRET_INPUTS,
  SECRET_LINE_INPUTS
} from '../core/secrets.js'
import { addSettingsSecrets, readSettings } from '../core/settings.js'
import { checkTargetFile } from '../core/target-file.js'
import { CLI_FILE_FLAGS, envName, parseArgs, settingsReader, type ParsedArgs } from './args.js'
import { helpText } from './help.js'
import { writeCodeQuality, writeReports } from './report.js'
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
  addEnvironmentSecrets(secrets, io.env, CI_SECRET_VARIABLES)
  // Warnings at a file position are kept for --code-quality-file.
  const findings: Finding[] = []
  const cliLogger = createCliLogger(io.stderr, { debug, secrets })
  const logger: CliLogger = {
    ...cliLogger,
    warning: (message, where) => {
      if (where?.file) findings.push({ ...where, message, severity: 'minor' })
      cliLogger.warning(message, where)
    }
  }
  // --json: a failure is a JSON object on stdout too, for whatever reads stdout.
  const json = argv.includes('--json') || argv.includes('--json=true')
  const fail = (e: unknown): number => {
    const code = failed(e, logger, debug)
    if (json) io.stdout(logger.scrub(JSON.stringify(errorObject(e), null, 2)) + '\n')
    return code
  }
  let args: ParsedArgs
  try {
    args = parseArgs(argv)
  } catch (e) {
    return fail(e)
  }
  for (const name of [...SECRET_INPUTS, ...SECRET_LINE_INPUTS]) {
    if (args.settings.has(name)) {
      logger.warning(
        `--${name} on the command line is seen by other users of the machine while the CLI starts: give it as ${envName(name)}`
      )
    }
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
  let workingDirectory = io.cwd
  const codeQuality = async (): Promise<void> => {
    if (!args.codeQualityFile) return
    const paths = { workingDirectory, projectDir: projectDirOf(io.env) || io.cwd }
    const file = path.resolve(io.cwd, args.codeQualityFile)
    await writeCodeQuality(file, findings, paths, secrets).catch(e =>
      logger.line(`warning: --code-quality-file: ${(e as Error).message}`)
    )
  }
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
    workingDirectory = settings.workingDirectory
    tempDir = await makeRunTempDir(tmpdir(), [settings.export])
    const files = await reportFiles(args, io.cwd)
    const exec = io.exec ?? spawnExec
    const ci = ciOf(settings, io.env, exec, interrupts?.signal)
    const run: RunEnvironment = {
      env: io.env,
      logger,
      exec,
      github: onActionsRunner(io.env),
      tempDir,
      localCacheDir: localCacheDir(io.env, settings.app),
      secrets,
      signal: interrupts?.signal,
      ci,
      idToken: idTokenSource(io.env, ADAPTERS, { exec, signal: interrupts?.signal, secrets })
    }
    const result = await (io.pipeline ?? runPipeline)(settings, run)
    await writeReports({
      result,
      dryRun: settings.dryRun,
      summary: settings.summary,
      ci,
      ...files,
      gitlabToken: settings.gitlabToken,
      env: io.env,
      exec: run.exec,
      logger,
      secrets
    })
    await codeQuality()
    const out = (text: string): void => io.stdout(logger.scrub(text))
    if (args.json) out(JSON.stringify(result, null, 2) + '\n')
    else if (args.command === 'plan') out(JSON.stringify(result.plan, null, 2) + '\n')
    else if (args.id) out(`${result.releaseId || result.buildId}\n`)
    else {
      for (const l of serviceLines(result)) logger.line(l)
      out(finalLines(result))
    }
    return 0
  } catch (e) {
    // A cancelled run reports why it stopped, not what failed on the way, and no findings.
    const cancelled = interrupts?.reason()
    if (!cancelled && isReported(e)) {
      findings.push(...e.problems.map(p => ({ ...p, severity: 'major' as const })))
      await codeQuality()
    }
    return fail(cancelled ?? e)
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

/**
 * The closing lines of `convox build`; a fan-out's start prints the build id and the matrix,
 * a build leg the build id.
 */
export function finalLines(result: PipelineResult): string {
  if (result.stage === 'start') {
    return `Build:   ${result.buildId}\nMatrix:  ${JSON.stringify(result.matrix)}\n`
  }
  if (result.stage === 'build' || !result.releaseId) return `Build:   ${result.buildId}\n`
  return `Build:   ${result.buildId}\nRelease: ${result.releaseId}\n`
}

/** What --json prints when the run fails: the error, and each problem where it is. */
export function errorObject(e: unknown): { error: { message: string; problems: Problem[] } } {
  if (isReported(e)) return { error: { message: e.message, problems: e.problems } }
  const message = e instanceof Error ? e.message : String(e)
  return { error: { message, problems: [{ message }] } }
}

function failed(e: unknown, logger: CliLogger, debug: boolean): number {
  if (e instanceof Cancelled) {
    logger.line(`error: ${e.message}`)
    return e.exitCode
  }
  if (isReported(e)) {
    for (const p of e.problems) logger.line(formatCliProblem(p))
    return e.exitCode
  }
  const err = e instanceof Error ? e : new Error(String(e))
  logger.line(`error: ${err.message}`)
  if (debug && err.stack) logger.line(err.stack)
  return exitCodeOf(e)
}

/**
 * --output-file, --summary-file and --code-quality-file as absolute paths, checked before
 * anything runs: a build must not succeed only to have nowhere to write what it was asked to.
 */
async function reportFiles(
  args: ParsedArgs,
  cwd: string
): Promise<{ outputFile: string; summaryFile: string }> {
  const resolve = (given: string): string => (given ? path.resolve(cwd, given) : '')
  const files = { outputFile: resolve(args.outputFile), summaryFile: resolve(args.summaryFile) }
  const problems: Problem[] = []
  for (const [flag, key] of Object.entries(CLI_FILE_FLAGS)) {
    const file = resolve(args[key])
    if (!file) continue
    await checkTargetFile(file, flag).catch(e => {
      if (!isUserError(e)) throw e
      problems.push(...e.problems)
    })
  }
  if (problems.length > 0) throw new UserError(problems)
  return files
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
