// runPipeline as a shell would run it: settings read from an input map, a logger that records
// every line, warning and masked value, and the example app in a git repository of its own.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ciOf } from '../../src/ci/context.js'
import { spawnExec } from '../../src/core/exec.js'
import { runPipeline, type PipelineResult } from '../../src/core/pipeline/index.js'
import { readSettings, type Settings } from '../../src/core/settings.js'
import { EXAMPLES } from './engine-plan.js'
import { captureLogger, type CapturedLog } from './logger.js'
import { rigEnv, type Rig } from './rig.js'

export { captureLogger, type CapturedLog } from './logger.js'

/** process.env with the rig on PATH, and nothing of a CI job or a rack leaking in. */
export function pipelineEnv(rig: Rig, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = rigEnv(rig)
  for (const k of Object.keys(env)) {
    if (/^(GITHUB_|RUNNER_|ACTIONS_|CONVOX_|RACK_URL$)/.test(k)) delete env[k]
  }
  return { ...env, ...extra }
}

/** Inputs every rig run needs: buildctl on the rig's daemon, the Docker Hub stand-in login. */
export function rigInputs(rig: Rig): Record<string, string> {
  return {
    engine: 'buildctl',
    'buildkit-host': rig.buildkitHost,
    'docker-hub-registry': rig.hubRegistry,
    'docker-hub-username': rig.hubUsername,
    'docker-hub-password': rig.hubPassword,
    summary: 'false'
  }
}

export interface PipelineRun {
  settings?: Settings
  result?: PipelineResult
  error?: Error
  log: CapturedLog
  durationMs: number
}

/**
 * Reads settings from `inputs` (names as in action.yml) and runs the pipeline; never throws:
 * the error (from readSettings or runPipeline) is returned.
 */
export async function runWithInputs(
  inputs: Record<string, string>,
  options: {
    env: NodeJS.ProcessEnv
    cwd: string
    /** The CI's OIDC token (RunEnvironment.idToken); none by default. */
    idToken?: (audience: string) => Promise<string | undefined>
  }
): Promise<PipelineRun> {
  const log = captureLogger()
  const started = Date.now()
  const tempDir = await mkdtemp(path.join(tmpdir(), 'pipeline-run-'))
  let settings: Settings | undefined
  try {
    settings = readSettings(name => inputs[name] ?? '', options)
    const result = await runPipeline(settings, {
      env: options.env,
      logger: log.logger,
      secrets: log.secrets,
      ci: ciOf(settings, options.env, spawnExec),
      exec: spawnExec,
      github: false,
      tempDir,
      localCacheDir: path.join(tempDir, 'cache'),
      idToken: options.idToken
    })
    return { settings, result, log, durationMs: Date.now() - started }
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e))
    return { settings, error, log, durationMs: Date.now() - started }
  } finally {
    await rm(tempDir, { recursive: true, force: true })
  }
}

export interface ExampleApp {
  dir: string
  /** The commit of the copy (BUILD_GIT_SHA). */
  sha: string
}

async function git(dir: string, args: string[]): Promise<string> {
  const r = await spawnExec(
    'git',
    [
      '-c',
      'user.name=Test',
      '-c',
      'user.email=test@example.com',
      '-c',
      'init.defaultBranch=main',
      ...args
    ],
    { cwd: dir }
  )
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

/**
 * Copies examples/ into a fresh git repository (one commit) so the commit sha resolves;
 * `change` may edit the copy before the commit.
 */
export async function exampleApp(
  change?: (dir: string) => Promise<void>,
  subject = 'Example app for pipeline tests'
): Promise<ExampleApp> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pipeline-app-'))
  await cp(EXAMPLES, dir, { recursive: true })
  if (change) await change(dir)
  await git(dir, ['init', '-q'])
  await git(dir, ['add', '-A'])
  await git(dir, ['commit', '-q', '-m', subject])
  return { dir, sha: await git(dir, ['rev-parse', 'HEAD']) }
}

/** Appends a line to a file of the app (e.g. `RUN exit 3` to its Dockerfile). */
export async function appendLine(file: string, line: string): Promise<void> {
  await writeFile(file, `${(await readFile(file, 'utf8')).trimEnd()}\n${line}\n`)
}
