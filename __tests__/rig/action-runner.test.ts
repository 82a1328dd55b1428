// The action run as the GitHub runner runs it: the bundle under node, inputs as INPUT_* variables
// (action.yml defaults filled in), outputs/state/summary through the runner's files, annotations
// as workflow commands on stdout. Dry runs need no builder: this covers the shell end to end.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { parse } from 'yaml'

const root = path.resolve('.')
const SECRET = 'runner-test-S3cret-value'
const HEAD_SHA = 'feedfacefeedfacefeedfacefeedfacefeedface'
let work: string
let dist: string

interface RunnerRun {
  status: number | null
  stdout: string
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
  runnerTemp: string
}

/** The runner's `name<<delimiter` file format (GITHUB_OUTPUT, GITHUB_STATE). */
function parseCommandFile(text: string): Record<string, string> {
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
function inputEnv(inputs: Record<string, string>): Record<string, string> {
  const action = parse(readFileSync(path.join(root, 'action.yml'), 'utf8')) as {
    inputs: Record<string, { default?: string }>
  }
  const env: Record<string, string> = {}
  for (const [name, spec] of Object.entries(action.inputs)) {
    const value = inputs[name] ?? spec.default
    if (value !== undefined) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }
  return env
}

async function runAction(
  script: 'index.js' | 'post.js',
  inputs: Record<string, string>,
  extraEnv: Record<string, string> = {}
): Promise<RunnerRun> {
  const dir = await mkdtemp(path.join(work, 'job-'))
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
    JSON.stringify({ pull_request: { number: 7, head: { sha: HEAD_SHA } } }, null, 2)
  )
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_WORKSPACE: root,
    GITHUB_REPOSITORY: 'acme/convox-example',
    GITHUB_SHA: '1111111111111111111111111111111111111111',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: event,
    GITHUB_RUN_ID: '1001',
    GITHUB_SERVER_URL: 'https://github.com',
    RUNNER_TEMP: runnerTemp,
    ...files,
    ...inputEnv(inputs),
    ...extraEnv
  }
  const r = spawnSync(process.execPath, [path.join(dist, script)], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 60_000
  })
  return {
    status: r.status,
    stdout: r.stdout + r.stderr,
    outputs: parseCommandFile(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    state: parseCommandFile(readFileSync(files.GITHUB_STATE, 'utf8')),
    summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    runnerTemp
  }
}

/** Lines the runner would show: everything but the mask commands it consumes. */
function shownLines(stdout: string): string[] {
  return stdout.split('\n').filter(l => !l.startsWith('::add-mask::'))
}

beforeAll(() => {
  // The bundle of the current sources, exactly as `npm run bundle` makes dist/.
  work = execFileSync('mktemp', ['-d', path.join(tmpdir(), 'action-runner-XXXXXX')], {
    encoding: 'utf8'
  }).trim()
  dist = path.join(work, 'dist')
  execFileSync(process.execPath, [path.join(root, 'scripts', 'bundle.mjs'), dist], {
    cwd: root,
    stdio: 'pipe'
  })
}, 300_000)
afterAll(() => rm(work, { recursive: true, force: true }))

describe('the action under the runner, dry run', () => {
  it('plans the example app and sets build-id and plan outputs and the summary', async () => {
    const r = await runAction('index.js', {
      'working-directory': 'examples',
      'build-args': 'BUILD_GIT_SHA\nVERSION=1.2.3',
      registry: 'registry.local:5000/acme/example',
      'registry-username': 'ci',
      'registry-password': SECRET,
      'dry-run': 'true'
    })
    expect(r.stdout).not.toMatch(/^::error/m)
    expect(r.status).toBe(0)
    expect(r.outputs['build-id']).toMatch(/^B[A-Z]{10}$/)
    const plan = JSON.parse(r.outputs.plan ?? '')
    expect(plan.app).toBe('convox-example')
    expect(plan.buildId).toBe(r.outputs['build-id'])
    // On pull_request the commit built is the head of the PR, read from the event payload.
    expect(plan.gitSha).toBe(HEAD_SHA)
    expect(plan.services.map((s: { name: string; image: string }) => [s.name, s.image])).toEqual(
      ['web', 'worker', 'api', 'cache'].map(n => [
        n,
        `registry.local:5000/acme/example:${n}.${r.outputs['build-id']}`
      ])
    )
    expect(r.summary).toContain('(dry run)')
    expect(r.summary).toContain(`\`${r.outputs['build-id']}\``)
    expect(r.summary).toContain('`VERSION=***`')
    expect(r.summary).toContain('| web | `registry.local:5000/acme/example:web.')
    expect(r.summary).toContain('| #1 (shared with worker) |')
    for (const text of [...shownLines(r.stdout), JSON.stringify(r.outputs), r.summary]) {
      expect(text).not.toContain(SECRET)
    }
    expect(r.stdout).not.toContain('1.2.3')
    expect(r.stdout).toContain(`::add-mask::${SECRET}`)

    // The post step removes what the main step recorded, and never fails.
    const cleanup = JSON.parse(r.state.cleanup ?? '[]') as string[]
    expect(cleanup.length).toBeGreaterThan(0)
    expect(cleanup.every(p => p.startsWith(r.runnerTemp))).toBe(true)
    expect(JSON.stringify(r.state)).not.toContain(SECRET)
    await mkdir(cleanup[0] as string, { recursive: true })
    const post = await runAction('post.js', {}, { STATE_cleanup: r.state.cleanup ?? '' })
    expect(post.status).toBe(0)
    expect(existsSync(cleanup[0] as string)).toBe(false)
  })

  it('annotates a bad manifest at its line and column, exits 1, prints no secret', async () => {
    const app = await mkdtemp(path.join(work, 'bad-app-'))
    await writeFile(path.join(app, 'Dockerfile'), 'FROM busybox\n')
    await writeFile(
      path.join(app, 'convox.yml'),
      'services:\n  web:\n    build: .\n    image: redis:7\n'
    )
    const r = await runAction('index.js', {
      'working-directory': app,
      'registry-username': 'ci',
      'registry-password': SECRET,
      secrets: `npm_token=${SECRET}-npm`,
      'dry-run': 'true'
    })
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/^::error title=convox-build,file=convox\.yml,line=4,col=5::.+/m)
    expect(r.stdout).toMatch(
      /^::error::convox-build stopped: \d+ problems?, see the errors above$/m
    )
    expect(r.stdout).not.toMatch(/\n\s+at /)
    for (const line of shownLines(r.stdout)) expect(line).not.toContain(SECRET)
    expect(r.outputs['build-id']).toBeUndefined()
  })

  it('annotates bad inputs by name', async () => {
    const r = await runAction('index.js', {
      'working-directory': 'examples',
      cache: 'sometimes',
      'registry-password': SECRET,
      'dry-run': 'true'
    })
    expect(r.status).toBe(1)
    expect(r.stdout).toContain(
      '::error title=convox-build::input "cache": must be one of auto, registry, gha, local, inline, none; got "sometimes"'
    )
    expect(r.stdout).toContain(
      '::error title=convox-build::input "registry-username": registry-username and registry-password go together'
    )
    for (const line of shownLines(r.stdout)) expect(line).not.toContain(SECRET)
  })
})
