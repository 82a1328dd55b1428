// The action run as the GitHub runner runs it: the bundle under node, inputs as INPUT_* variables
// (action.yml defaults filled in), outputs/state/summary through the runner's files, annotations
// as workflow commands on stdout. Dry runs need no builder: this covers the shell end to end.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import {
  bundleForTest,
  HEAD_SHA,
  runAction as runInRunner,
  shownLines,
  type RunnerRun
} from '../helpers/action-runner.js'

const SECRET = 'runner-test-S3cret-value'
let work: string
let dist: string

const runAction = (
  script: 'index.js' | 'post.js',
  inputs: Record<string, string>,
  env: Record<string, string> = {}
): Promise<RunnerRun> => runInRunner(script, inputs, { dist, work, env })

beforeAll(() => {
  ;({ work, dist } = bundleForTest('action-runner-'))
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
      'services:\n  web:\n    build: .\n    agent:\n      ports: [1]\n'
    )
    const r = await runAction('index.js', {
      'working-directory': app,
      'registry-username': 'ci',
      'registry-password': SECRET,
      secrets: `npm_token=${SECRET}-npm`,
      'dry-run': 'true'
    })
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(
      /^::error title=convox-build,file=convox\.yml,line=5,col=7::services\.web\.agent: .+/m
    )
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
