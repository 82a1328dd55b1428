// The action as the GitHub runner runs it: a bundle under node, inputs as INPUT_* variables
// (action.yml defaults filled in), outputs, state and summary through the runner's files.
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { REPO_ROOT } from './rig.js'

export interface RunnerRun {
  status: number | null
  stdout: string
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
  runnerTemp: string
}

/** The runner's `name<<delimiter` file format (GITHUB_OUTPUT, GITHUB_STATE). */
export function parseCommandFile(text: string): Record<string, string> {
  const result: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i] as string)
    if (!m) continue
    const value: string[] = []
    while (++i < lines.length && lines[i] !== m[2]) value.push(lines[i] as string)
    result[m[1] as string] = value.join('\n')
  }
  return result
}

/** Like the runner: INPUT_<NAME> with spaces as `_`, dashes kept; action.yml defaults filled in. */
export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  const action = parse(readFileSync(path.join(REPO_ROOT, 'action.yml'), 'utf8')) as {
    inputs: Record<string, { default?: string }>
  }
  const env: Record<string, string> = {}
  for (const [name, spec] of Object.entries(action.inputs)) {
    const value = inputs[name] ?? spec.default
    if (value !== undefined) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }
  return env
}

/** Lines the runner would show: everything but the mask commands it consumes. */
export function shownLines(stdout: string): string[] {
  return stdout.split('\n').filter(l => !l.startsWith('::add-mask::'))
}

export interface RunnerOptions {
  /** Directory holding index.js and post.js (a bundle). */
  dist: string
  /** Where job directories are made. */
  work: string
  /** The step's working directory (the runner's workspace). */
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** The event payload (default: a pull request with head HEAD_SHA). */
  event?: Record<string, unknown>
  timeoutMs?: number
}

/**
 * The bundle of the current sources, exactly as `npm run bundle` makes dist/, in a new directory
 * (`work`, which the test removes) under `dist`. Minutes on a busy machine.
 */
export function bundleForTest(prefix: string): { work: string; dist: string } {
  const work = execFileSync('mktemp', ['-d', path.join(tmpdir(), `${prefix}XXXXXX`)], {
    encoding: 'utf8'
  }).trim()
  const dist = path.join(work, 'dist')
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'bundle.mjs'), dist], {
    cwd: REPO_ROOT,
    stdio: 'pipe'
  })
  return { work, dist }
}

export const HEAD_SHA = 'feedfacefeedfacefeedfacefeedfacefeedface'

/** Runs `script` of the bundle as the runner does; resolves when it exits. */
export async function runAction(
  script: 'index.js' | 'post.js',
  inputs: Record<string, string>,
  options: RunnerOptions
): Promise<RunnerRun> {
  const dir = await mkdtemp(path.join(options.work, 'job-'))
  const runnerTemp = path.join(dir, 'temp')
  await mkdir(runnerTemp)
  const files = {
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STATE: path.join(dir, 'state'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    GITHUB_ENV: path.join(dir, 'env'),
    GITHUB_PATH: path.join(dir, 'path')
  }
  for (const f of Object.values(files)) await writeFile(f, '')
  const event = path.join(dir, 'event.json')
  await writeFile(
    event,
    JSON.stringify(
      options.event ?? { pull_request: { number: 7, head: { sha: HEAD_SHA } } },
      null,
      2
    )
  )
  const cwd = options.cwd ?? REPO_ROOT
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_WORKSPACE: cwd,
    GITHUB_REPOSITORY: 'acme/convox-example',
    GITHUB_SHA: '1111111111111111111111111111111111111111',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: event,
    GITHUB_RUN_ID: '1001',
    GITHUB_SERVER_URL: 'https://github.com',
    RUNNER_TEMP: runnerTemp,
    ...files,
    ...inputEnv(inputs),
    ...options.env
  }
  const child = spawn(process.execPath, [path.join(options.dist, script)], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (b: Buffer) => void (out += b.toString()))
  child.stderr.on('data', (b: Buffer) => void (out += b.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
  const status = await new Promise<number | null>(resolve => child.on('exit', c => resolve(c)))
  clearTimeout(timer)
  return {
    status,
    stdout: out,
    outputs: parseCommandFile(await readFile(files.GITHUB_OUTPUT, 'utf8')),
    state: parseCommandFile(await readFile(files.GITHUB_STATE, 'utf8')),
    summary: await readFile(files.GITHUB_STEP_SUMMARY, 'utf8'),
    runnerTemp
  }
}
