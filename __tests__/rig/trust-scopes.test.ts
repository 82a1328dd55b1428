// Trust scopes and the fork guard through the action's real entry (a bundle of the current
// sources under node, as the runner runs it) against the rig's registry: each run's event payload
// from __tests__/fixtures/trust, the repository's tags listed before and after each run. A
// protected run must never take what an untrusted run pushed; the guard refuses before any
// network call.
import { spawn } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { bundleToTemp, runAction, shownLines, type RunnerRun } from '../helpers/action-runner.js'
import { rigInputs } from '../helpers/pipeline.js'
import { loadRig, rigEnv, uniqueRepo } from '../helpers/rig.js'
import { trustCase, trustEnv, type TrustCaseName } from '../helpers/trust-cases.js'
import { spawnExec } from '../../src/core/exec.js'

const rig = loadRig()
let work: string
let dist: string
let app: string
const commits = { base: '', head: '' }

const gitEnv = {
  PATH: process.env.PATH,
  HOME: tmpdir(),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com'
}
const git = async (...args: string[]): Promise<string> =>
  (await spawnExec('git', args, { cwd: app, env: gitEnv })).stdout.trim()

beforeAll(async () => {
  ;({ work, dist } = bundleToTemp('trust-scopes-'))
  // One service; the pull request's head has the base's tree: the same content, the same key.
  app = await mkdtemp(path.join(work, 'app-'))
  const salt = Math.random().toString(36).slice(2)
  await writeFile(path.join(app, 'convox.yml'), 'services:\n  web:\n    build: .\n')
  await writeFile(
    path.join(app, 'Dockerfile'),
    `FROM busybox\nRUN echo ${salt} > /salt\nCOPY hello.txt /hello.txt\n`
  )
  await writeFile(path.join(app, 'hello.txt'), 'hello\n')
  // As apps do: the context is the tree, not the checkout's .git (whose HEAD differs).
  await writeFile(path.join(app, '.dockerignore'), '.git\n')
  await git('init', '-q', '-b', 'main')
  await git('add', '-A')
  await git('commit', '-q', '-m', 'Base')
  commits.base = await git('rev-parse', 'HEAD')
  await git('commit', '-q', '--allow-empty', '-m', 'Pull request')
  commits.head = await git('rev-parse', 'HEAD')
}, 300_000)
afterAll(() => rm(work, { recursive: true, force: true }))

/** The repository's tags now (none before its first push). */
async function tagsOf(repository: string): Promise<string[]> {
  const [registry, ...rest] = repository.split('/')
  const auth = Buffer.from(`${rig.registryUsername}:${rig.registryPassword}`).toString('base64')
  const res = await fetch(`http://${registry}/v2/${rest.join('/')}/tags/list`, {
    headers: { authorization: `Basic ${auth}` }
  })
  if (res.status === 404) return []
  const { tags } = (await res.json()) as { tags: string[] | null }
  return (tags ?? []).sort()
}

/** Runs the action on a fixture with `checkout` checked out; the tags it added. */
async function runCase(
  name: TrustCaseName,
  checkout: 'base' | 'head',
  inputs: Record<string, string>,
  repository = ''
): Promise<{ r: RunnerRun; added: string[] }> {
  await git('checkout', '-q', '--detach', commits[checkout])
  const c = trustCase(name, commits)
  const before = repository ? await tagsOf(repository) : []
  const r = await runAction(
    'index.js',
    { ...rigInputs(rig), 'working-directory': app, cache: 'registry', summary: 'true', ...inputs },
    {
      dist,
      work,
      cwd: app,
      env: { ...c.env, PATH: rigEnv(rig).PATH, BUILDX_CONFIG: rig.buildxConfig },
      event: c.event,
      timeoutMs: 300_000
    }
  )
  const after = repository ? await tagsOf(repository) : []
  return { r, added: after.filter(t => !before.includes(t)) }
}

/** Exit 0, else the output's end in the failure. */
const ok = (r: { status: number | null; stdout: string }): void =>
  expect({ status: r.status, tail: r.status === 0 ? '' : r.stdout.slice(-3000) }).toEqual({
    status: 0,
    tail: ''
  })
/** A new repository of the rig's registry and the inputs that push to it. */
function newRepository(prefix: string) {
  const registry = uniqueRepo(prefix, rig)
  const login = {
    registry,
    'registry-username': rig.registryUsername,
    'registry-password': rig.registryPassword
  }
  return { registry, login }
}

const reusedOf = (r: RunnerRun): Record<string, string> =>
  JSON.parse(r.outputs.reused ?? '{}') as Record<string, string>

describe('trust scopes through the action', () => {
  it('a pull request writes only its own tags; main after it builds; later runs read main only', async () => {
    const { registry, login } = newRepository('trust')

    // A pull request of the same repository: its own cache tag and key tag, nothing shared.
    const pr = await runCase('pull_request-same-repo', 'head', login, registry)
    ok(pr.r)
    const prId = pr.r.outputs['build-id']
    expect(pr.added).toEqual([
      `web.${prId}`,
      'web.buildcache.pr-7',
      expect.stringMatching(/^web\.pr-7\.[0-9a-f]+$/)
    ])
    expect(pr.r.stdout).toContain('scope pr-7 (untrusted): pull_request from acme/app')
    // the summary's text, its Markdown escapes (core/summary.ts) read back
    expect(pr.r.summary.replace(/\\([!-/:-@[-`{-~])/g, '$1')).toContain(
      '**Trust:** scope pr-7 (untrusted): pull_request from acme/app'
    )
    const key = pr.added[2]!.slice('web.pr-7.'.length)

    // main, the same content: the PR's image is there under its key, and main builds anyway.
    const main = await runCase('push-main', 'base', login, registry)
    ok(main.r)
    expect(reusedOf(main.r)).toEqual({})
    expect(main.r.stdout).toMatch(/\[web\] building /)
    expect(main.r.stdout).not.toContain('pr-7')
    const mainId = main.r.outputs['build-id']
    expect(main.added).toEqual([`web.${key}`, `web.${mainId}`, 'web.buildcache'].sort())
    expect(JSON.parse(main.r.outputs.plan ?? '{}').gitSha).toBe(commits.base)
    expect(main.r.stdout).toContain('scope main (protected): push on main, the default branch')

    // A fork's pull request: reuses main's image, tags only its own scope.
    const fork = await runCase('pull_request-fork', 'head', login, registry)
    ok(fork.r)
    expect(fork.r.stdout).toContain('scope pr-8 (untrusted): pull_request from the fork evil/app')
    expect(reusedOf(fork.r)).toEqual({ web: `${registry}:web.${key}` })
    expect(fork.added).toEqual([`web.${fork.r.outputs['build-id']}`, `web.pr-8.${key}`].sort())

    // The same pull request again: its own key tag first.
    const again = await runCase('pull_request-same-repo', 'head', login, registry)
    ok(again.r)
    expect(reusedOf(again.r)).toEqual({ web: `${registry}:web.pr-7.${key}` })
    expect(again.added).toEqual([`web.${again.r.outputs['build-id']}`])

    // A tag push is protected: main's key tag.
    const tag = await runCase('push-tag', 'base', login, registry)
    ok(tag.r)
    expect(tag.r.stdout).toContain('scope tag-v1-2-0 (protected): push of tag v1.2.0')
    expect(reusedOf(tag.r)).toEqual({ web: `${registry}:web.${key}` })
    expect(tag.added).toEqual([`web.${tag.r.outputs['build-id']}`])

    // pull_request_target with the base checked out (the safe pattern): built under the PR's
    // scope, and BUILD_GIT_SHA is the base, not the payload's head.
    const target = await runCase('pull_request_target-fork', 'base', login, registry)
    ok(target.r)
    expect(target.r.stdout).toContain(
      'scope pr-9 (untrusted): pull_request_target from the fork evil/app'
    )
    expect(JSON.parse(target.r.outputs.plan ?? '{}').gitSha).toBe(commits.base)
    expect(target.added).toEqual([`web.${target.r.outputs['build-id']}`, `web.pr-9.${key}`].sort())

    // workflow_run of a fork's pull request, base checked out: that PR's scope, not main's.
    const run = await runCase('workflow_run-fork-pr', 'base', login, registry)
    ok(run.r)
    expect(run.r.stdout).toContain(
      'scope fork-evil-patch-1 (untrusted): workflow_run of a pull_request from the fork evil/app'
    )
    expect(run.added).toEqual(
      [`web.${run.r.outputs['build-id']}`, `web.fork-evil-patch-1.${key}`].sort()
    )

    // Nothing but a protected run ever wrote a name a protected run reads.
    const all = await tagsOf(registry)
    expect(all.filter(t => /^web\.(buildcache|[0-9a-f]+)$/.test(t)).sort()).toEqual(
      ['web.buildcache', `web.${key}`].sort()
    )
  }, 900_000)
})

/** A loopback server that only counts what reaches it: connections and requests. */
async function captureServer(): Promise<{
  host: string
  seen: () => number
  close: () => Promise<void>
}> {
  let seen = 0
  const server = http.createServer((_req, res) => {
    seen++
    res.writeHead(500).end()
  })
  server.on('connection', () => void seen++)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    host: `127.0.0.1:${port}`,
    seen: () => seen,
    close: () => new Promise<void>(resolve => server.close(() => resolve()))
  }
}

describe('the fork guard through the action', () => {
  it.each([
    [
      'pull_request_target-fork',
      "pull_request_target from the fork evil/app: the commit checked out \\([0-9a-f]{10}\\) is the fork's head"
    ],
    [
      'workflow_run-fork-pr',
      "workflow_run from the fork evil/app: the commit checked out \\([0-9a-f]{10}\\) is the fork's head"
    ]
  ] as const)(
    '%s with the fork head and credentials: refused, no network call',
    async (name, why) => {
      const capture = await captureServer()
      try {
        const { r } = await runCase(name, 'head', {
          registry: `${capture.host}/acme/app`,
          'registry-username': 'ci',
          'registry-password': 'registry-Passw0rd',
          'docker-hub-registry': capture.host,
          'rack-url': `http://convox:rack-Passw0rd@${capture.host}`,
          'buildkit-host': `tcp://${capture.host}`
        })
        expect(r.status).not.toBe(0)
        const errors = shownLines(r.stdout).filter(l => l.startsWith('::error'))
        expect(errors).toEqual([
          expect.stringMatching(
            new RegExp(
              `^::error title=convox-build::input "allow-fork-code": ${why}, and registry-password, docker-hub-password, rack-url are given: refusing .*set allow-fork-code: true$`
            )
          ),
          '::error::convox-build stopped: 1 problem, see the errors above'
        ])
        expect(shownLines(r.stdout).join('\n')).not.toContain('Passw0rd')
        expect(capture.seen()).toBe(0)

        // A dry run with a rack reads the app's env there: refused all the same.
        const dry = await runCase(name, 'head', {
          'rack-url': `http://convox:rack-Passw0rd@${capture.host}`,
          'dry-run': 'true'
        })
        expect(dry.r.status).not.toBe(0)
        expect(dry.r.stdout).toContain('set allow-fork-code: true')
        expect(capture.seen()).toBe(0)

        // Reviewed: allow-fork-code lets it go on (to the capture server, which fails it).
        const allowed = await runCase(name, 'head', {
          registry: `${capture.host}/acme/app`,
          'registry-username': 'ci',
          'registry-password': 'registry-Passw0rd',
          'allow-fork-code': 'true'
        })
        expect(allowed.r.stdout).not.toContain('allow-fork-code:')
      } finally {
        await capture.close()
      }
    },
    300_000
  )
})

describe('GitLab through the CLI', () => {
  /** The bundle's CLI with a fixture's variables and the settings as CONVOX_BUILD_* variables. */
  async function cli(name: TrustCaseName, settings: Record<string, string>) {
    await git('checkout', '-q', '--detach', commits.head)
    const env: NodeJS.ProcessEnv = {
      PATH: rigEnv(rig).PATH,
      HOME: tmpdir(),
      ...(await trustEnv(trustCase(name, commits), work, name))
    }
    const inputs = { ...rigInputs(rig), ...settings }
    for (const [k, v] of Object.entries(inputs)) {
      env[`CONVOX_BUILD_${k.toUpperCase().replace(/-/g, '_')}`] = v
    }
    const child = spawn(process.execPath, [path.join(dist, 'cli.js'), 'build'], { cwd: app, env })
    let stdout = ''
    child.stdout.on('data', (b: Buffer) => void (stdout += b.toString()))
    child.stderr.on('data', (b: Buffer) => void (stdout += b.toString()))
    const status = await new Promise<number | null>(resolve => child.on('exit', resolve))
    return { status, stdout }
  }

  it("a fork's merge request in the parent project: refused with credentials; allowed, its own scope", async () => {
    const { registry, login } = newRepository('trust-gitlab')
    const refused = await cli('gitlab-fork-mr', login)
    expect(refused.status).not.toBe(0)
    expect(refused.stdout).toMatch(
      /allow-fork-code: merge request !5 from the fork evil\/app runs in acme\/app with its variables, .*allow-fork-code: true/
    )
    expect(await tagsOf(registry)).toEqual([])

    const allowed = await cli('gitlab-fork-mr', { ...login, 'allow-fork-code': 'true' })
    ok(allowed)
    expect(allowed.stdout).toContain(
      'scope mr-5 (untrusted): merge request !5 from the fork evil/app'
    )
    const tags = await tagsOf(registry)
    expect(tags).toEqual([
      expect.stringMatching(/^web\.B[A-Z]{10}$/),
      'web.buildcache.mr-5',
      expect.stringMatching(/^web\.mr-5\.[0-9a-f]+$/)
    ])
  }, 600_000)
})
