// Trust scopes from each CI's word (src/ci/trust.ts and each CI's adapter, src/ci/<ci>.ts), the
// names each scope reads and writes (src/core/trust.ts), and the fork guard, from the fixtures
// in __tests__/fixtures/trust with the commits of a real repository checked out.
import { beforeAll, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { localCacheKeys } from '../../src/action/local-cache.js'
import { readCiContext } from '../../src/ci/context.js'
import { matchTrustedRef } from '../../src/ci/trust.js'
import type { CiContext } from '../../src/core/commit.js'
import { UserError } from '../../src/core/errors.js'
import { spawnExec } from '../../src/core/exec.js'
import { readSettings } from '../../src/core/settings.js'
import {
  describeScope,
  guardForkCode,
  inlineCacheTag,
  registryCacheTag,
  reuseKeyTag,
  scopeName,
  SCOPE_NAME_MAX,
  type TrustScope
} from '../../src/core/trust.js'
import { trustCase, trustEnv, type TrustCaseName } from '../helpers/trust-cases.js'

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'trust-home-'))
const gitEnv = {
  PATH: process.env.PATH,
  HOME: home,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com'
}

let dir: string
const commits = { base: '', head: '' }
const git = async (...args: string[]): Promise<string> =>
  (await spawnExec('git', args, { cwd: dir, env: gitEnv })).stdout.trim()

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trust-repo-'))
  await git('init', '-q', '-b', 'main')
  fs.writeFileSync(path.join(dir, 'f'), 'base')
  await git('add', 'f')
  await git('commit', '-q', '-m', 'Base')
  commits.base = await git('rev-parse', 'HEAD')
  await git('checkout', '-q', '-b', 'patch-1')
  fs.writeFileSync(path.join(dir, 'f'), 'fork')
  await git('commit', '-q', '-am', 'Fork change')
  commits.head = await git('rev-parse', 'HEAD')
})

/** The context of a fixture with `checkout` checked out. */
async function contextOf(
  name: TrustCaseName,
  checkout: 'base' | 'head',
  trustedRefs: string[] = []
): Promise<CiContext> {
  await git('checkout', '-q', '--detach', commits[checkout])
  const env = await trustEnv(trustCase(name, commits), dir, name)
  return readCiContext({ env: { ...gitEnv, ...env }, cwd: dir, exec: spawnExec, trustedRefs })
}

const scope = (kind: TrustScope['kind'], name: string, reason: string | RegExp) => ({
  kind,
  name,
  reason: typeof reason === 'string' ? reason : expect.stringMatching(reason)
})

describe('trust scope from each case', () => {
  it('push to the default branch: protected', async () => {
    const ci = await contextOf('push-main', 'base')
    expect(ci.scope).toEqual(scope('protected', 'main', 'push on main, the default branch'))
    expect(ci.forkCode).toBe('')
  })

  it('push of a tag: protected', async () => {
    const ci = await contextOf('push-tag', 'base')
    expect(ci.scope).toEqual(scope('protected', 'tag-v1-2-0', 'push of tag v1.2.0'))
  })

  it('push to another branch: its own scope, unless trusted-refs names it', async () => {
    const ci = await contextOf('push-branch', 'base')
    expect(ci.scope).toEqual(scope('untrusted', 'branch-feature-x', /^push on feature\/x, not/))
    const trusted = await contextOf('push-branch', 'base', ['release/*', 'feature/*'])
    expect(trusted.scope).toEqual(
      scope('protected', 'feature-x', 'push on feature/x (trusted-refs: feature/*)')
    )
    const full = await contextOf('push-branch', 'base', ['refs/heads/feature/**'])
    expect(full.scope.kind).toBe('protected')
    expect((await contextOf('push-branch', 'base', ['feature'])).scope.kind).toBe('untrusted')
  })

  it('pull_request from the same repository: the PR scope', async () => {
    const ci = await contextOf('pull_request-same-repo', 'head')
    expect(ci.scope).toEqual(scope('untrusted', 'pr-7', 'pull_request from acme/app'))
    expect(ci.forkCode).toBe('')
    // The head, not GITHUB_SHA's merge commit, as before.
    expect(ci.commit).toBe(commits.head)
  })

  it('pull_request from a fork: the PR scope; no guard (GitHub gives it no secrets)', async () => {
    const ci = await contextOf('pull_request-fork', 'head')
    expect(ci.scope).toEqual(scope('untrusted', 'pr-8', 'pull_request from the fork evil/app'))
    expect(ci.forkCode).toBe('')
  })

  it("pull_request_target with the fork's head checked out: fork code", async () => {
    const ci = await contextOf('pull_request_target-fork', 'head')
    expect(ci.scope).toEqual(
      scope('untrusted', 'pr-9', 'pull_request_target from the fork evil/app')
    )
    expect(ci.forkCode).toBe(
      `pull_request_target from the fork evil/app: the commit checked out (${commits.head.slice(0, 10)}) is the fork's head`
    )
    expect(ci.commit).toBe(commits.head)
  })

  it('pull_request_target with the base checked out: built, BUILD_GIT_SHA is the base', async () => {
    const ci = await contextOf('pull_request_target-fork', 'base')
    expect(ci.scope.name).toBe('pr-9')
    expect(ci.forkCode).toBe('')
    // Not the payload's head: what is checked out.
    expect(ci).toMatchObject({ commit: commits.base, commitSource: 'git', subject: 'Base' })
  })

  it("pull_request_target with another tree (a local merge of the fork's code): fork code", async () => {
    await git('checkout', '-q', '--detach', commits.base)
    fs.writeFileSync(path.join(dir, 'g'), 'merged')
    await git('add', 'g')
    await git('commit', '-q', '-m', 'Local merge')
    const merged = await git('rev-parse', 'HEAD')
    const env = await trustEnv(trustCase('pull_request_target-fork', commits), dir, 'merge')
    const ci = await readCiContext({ env: { ...gitEnv, ...env }, cwd: dir, exec: spawnExec })
    expect(ci.forkCode).toMatch(/is not the base/)
    expect(ci.commit).toBe(merged)
  })

  it('pull_request_target without a readable payload: fork code unless GITHUB_SHA is checked out', async () => {
    const env = {
      ...trustCase('pull_request_target-fork', commits).env,
      GITHUB_EVENT_PATH: path.join(dir, 'missing.json')
    }
    const read = async (checkout: 'base' | 'head') => {
      await git('checkout', '-q', '--detach', commits[checkout])
      return readCiContext({ env: { ...gitEnv, ...env }, cwd: dir, exec: spawnExec })
    }
    const head = await read('head')
    expect(head.scope.kind).toBe('untrusted')
    expect(head.forkCode).toMatch(/without a readable event payload: .* is not GITHUB_SHA$/)
    expect((await read('base')).forkCode).toBe('')
  })

  it("workflow_run of a fork's pull request: that PR's scope, and the guard as for _target", async () => {
    const head = await contextOf('workflow_run-fork-pr', 'head')
    // GitHub gives a fork's workflow_run no pull_requests: the fork and its branch name it.
    expect(head.scope).toEqual(
      scope(
        'untrusted',
        'fork-evil-patch-1',
        'workflow_run of a pull_request from the fork evil/app'
      )
    )
    expect(head.forkCode).toMatch(/^workflow_run from the fork evil\/app: .* is the fork's head$/)
    const base = await contextOf('workflow_run-fork-pr', 'base')
    expect(base.scope.name).toBe('fork-evil-patch-1')
    expect(base.forkCode).toBe('')
    expect(base.commit).toBe(commits.base)
  })

  it('workflow_run of a pull request of the same repository: pr-<n>', async () => {
    const ci = await contextOf('workflow_run-same-repo-pr', 'head')
    expect(ci.scope).toEqual(
      scope('untrusted', 'pr-12', 'workflow_run of a pull_request from acme/app')
    )
    expect(ci.forkCode).toBe('')
  })

  it("GitLab fork merge request in the parent project: the MR's scope, fork code", async () => {
    const ci = await contextOf('gitlab-fork-mr', 'head')
    expect(ci.scope).toEqual(scope('untrusted', 'mr-5', 'merge request !5 from the fork evil/app'))
    expect(ci.forkCode).toMatch(/^merge request !5 from the fork evil\/app runs in acme\/app/)
    // Run in the fork's own project: its own variables, no guard.
    const env = { ...trustCase('gitlab-fork-mr', commits).env, CI_PROJECT_ID: '200' }
    const own = await readCiContext({ env: { ...gitEnv, ...env }, cwd: dir, exec: spawnExec })
    expect(own.scope.name).toBe('mr-5')
    expect(own.forkCode).toBe('')
  })

  it('GitLab protected and other branches, Buildkite and CircleCI fork PRs', async () => {
    const read = (env: Record<string, string>) =>
      readCiContext({ env: { ...gitEnv, ...env }, cwd: dir, exec: spawnExec })
    const gl = { GITLAB_CI: 'true', CI_COMMIT_SHA: commits.base, CI_DEFAULT_BRANCH: 'main' }
    expect(
      (await read({ ...gl, CI_COMMIT_BRANCH: 'stable', CI_COMMIT_REF_PROTECTED: 'true' })).scope
    ).toEqual(scope('protected', 'stable', 'pipeline on stable, a protected branch'))
    expect((await read({ ...gl, CI_COMMIT_BRANCH: 'wip' })).scope.name).toBe('branch-wip')
    const bk = await read({
      BUILDKITE: 'true',
      BUILDKITE_COMMIT: commits.head,
      BUILDKITE_BRANCH: 'patch-1',
      BUILDKITE_REPO: 'git@github.com:acme/app.git',
      BUILDKITE_PULL_REQUEST: '3',
      BUILDKITE_PULL_REQUEST_REPO: 'https://github.com/evil/app.git'
    })
    expect(bk.scope).toEqual(scope('untrusted', 'pr-3', 'pull request #3 from the fork evil/app'))
    expect(bk.forkCode).toMatch(/fork evil\/app/)
    const circle = await read({
      CIRCLECI: 'true',
      CIRCLE_SHA1: commits.head,
      CIRCLE_BRANCH: 'pull/4',
      CIRCLE_PROJECT_USERNAME: 'acme',
      CIRCLE_PROJECT_REPONAME: 'app',
      CIRCLE_PULL_REQUEST: 'https://github.com/acme/app/pull/4',
      CIRCLE_PR_NUMBER: '4',
      CIRCLE_PR_USERNAME: 'evil',
      CIRCLE_PR_REPONAME: 'app'
    })
    expect(circle.scope.name).toBe('pr-4')
    expect(circle.forkCode).toMatch(/fork evil\/app/)
  })

  it('outside any CI: protected, unless trusted-refs is given and leaves the branch out', async () => {
    await git('checkout', '-q', 'patch-1')
    const read = (trustedRefs: string[]) =>
      readCiContext({ env: gitEnv, cwd: dir, exec: spawnExec, trustedRefs })
    expect((await read([])).scope).toEqual(scope('protected', 'local', /not in a CI/))
    expect((await read(['main'])).scope).toEqual(
      scope('untrusted', 'branch-patch-1', /not in a CI, on patch-1/)
    )
    expect((await read(['patch-*'])).scope.kind).toBe('protected')
  })
})

describe('scope names and the tags they give', () => {
  const pr: TrustScope = { kind: 'untrusted', name: 'pr-7', reason: '' }
  const main: TrustScope = { kind: 'protected', name: 'main', reason: '' }

  it('protected runs keep the rack names; untrusted ones have their scope in each', () => {
    expect(registryCacheTag('web', main)).toBe('web.buildcache')
    expect(registryCacheTag('web', main, 'BABCDEFGHIJ')).toBe('web.buildcache.BABCDEFGHIJ')
    expect(registryCacheTag('web', pr)).toBe('web.buildcache.pr-7')
    expect(registryCacheTag('web', pr, 'BABCDEFGHIJ')).toBe('web.buildcache.pr-7.BABCDEFGHIJ')
    expect(inlineCacheTag('web', pr)).toBe('web.inlinecache.pr-7')
    expect(reuseKeyTag('web', 'abc123', main)).toBe('web.abc123')
    expect(reuseKeyTag('web', 'abc123', pr)).toBe('web.pr-7.abc123')
  })

  it('the log line stays one line whatever a name holds', () => {
    const odd: TrustScope = { kind: 'untrusted', name: 'pr-1', reason: 'from a\n::error::b\r' }
    expect(describeScope(odd)).toBe('scope pr-1 (untrusted): from a ::error::b ')
  })

  it('scope names are short, lowercase and valid in tags; long ones stay distinct', () => {
    const a = scopeName('branch', `Feature/${'x'.repeat(200)}/A`)
    const b = scopeName('branch', `Feature/${'x'.repeat(200)}/B`)
    expect(a).not.toBe(b)
    for (const n of [a, b, scopeName('branch', 'ÄÖ/..//--x'), scopeName('tag', 'v1.2.0')]) {
      expect(n.length).toBeLessThanOrEqual(SCOPE_NAME_MAX)
      expect(n).toMatch(/^[a-z0-9][a-z0-9-]*$/)
    }
    const long: TrustScope = { kind: 'untrusted', name: a, reason: '' }
    const service = 's'.repeat(63)
    const tag = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/
    expect(registryCacheTag(service, long, 'BABCDEFGHIJ')).toMatch(tag)
    expect(reuseKeyTag('s'.repeat(200), 'f'.repeat(32), long)).toMatch(tag)
  })

  it('trusted-refs globs: * within a segment, ** across, refs/ against the full ref', () => {
    expect(matchTrustedRef(['release/*'], { branch: 'release/1.0' })).toBe('release/*')
    expect(matchTrustedRef(['release/*'], { branch: 'release/1.0/x' })).toBeUndefined()
    expect(matchTrustedRef(['release/**'], { branch: 'release/1.0/x' })).toBe('release/**')
    expect(matchTrustedRef(['refs/tags/v*'], { tag: 'v2' })).toBe('refs/tags/v*')
    expect(matchTrustedRef(['refs/tags/v*'], { branch: 'v2' })).toBeUndefined()
    expect(matchTrustedRef(['ma.n'], { branch: 'main' })).toBeUndefined()
  })
})

describe("the action's local cache keys", () => {
  it('an untrusted run saves under its own prefix; a protected one never restores it', () => {
    const s = readSettings(() => '', { env: {}, cwd: '/src' })
    const env = { GITHUB_RUN_ID: '9', GITHUB_RUN_ATTEMPT: '1' }
    const pr: TrustScope = { kind: 'untrusted', name: 'pr-7', reason: '' }
    const untrusted = localCacheKeys(s, env, pr)
    const protectedKeys = localCacheKeys(s, env)
    expect(untrusted.restoreKeys).toEqual([
      expect.stringMatching(/-pr-7-$/),
      protectedKeys.restoreKeys[0]
    ])
    expect(untrusted.key.startsWith(untrusted.restoreKeys[0]!)).toBe(true)
    // The cache service restores by prefix: no protected prefix is one of an untrusted key.
    for (const prefix of protectedKeys.restoreKeys) {
      expect(untrusted.key.startsWith(prefix)).toBe(false)
    }
  })
})

describe('the fork guard', () => {
  const settingsOf = (inputs: Record<string, string>) =>
    readSettings(name => inputs[name] ?? '', { env: {}, cwd: dir })
  const why = 'pull_request_target from the fork evil/app: the checked-out commit is the fork head'

  it('refuses fork code with any credential, naming allow-fork-code', () => {
    const credentials: Record<string, string>[] = [
      { 'registry-username': 'u', 'registry-password': 'p', registry: 'r.example/app' },
      { 'docker-hub-username': 'u', 'docker-hub-password': 'p' },
      { 'rack-url': 'https://convox:secret@rack.example' },
      { 'convox-password': 'deploy-key' },
      { secrets: 'npm=token' }
    ]
    for (const given of credentials) {
      const s = settingsOf(given)
      let refusal: unknown
      try {
        guardForkCode(why, s)
      } catch (e) {
        refusal = e
      }
      expect(refusal).toBeInstanceOf(UserError)
      const [problem] = (refusal as UserError).problems
      expect(problem?.input).toBe('allow-fork-code')
      expect(problem?.message).toContain('allow-fork-code: true')
      expect(problem?.message).not.toMatch(/\n/)
    }
  })

  it('builds without credentials, with allow-fork-code, or when the code is not a fork', () => {
    expect(() => guardForkCode(why, settingsOf({}))).not.toThrow()
    const creds = { 'registry-username': 'u', 'registry-password': 'p', registry: 'r.example/a' }
    expect(() =>
      guardForkCode(why, settingsOf({ ...creds, 'allow-fork-code': 'true' }))
    ).not.toThrow()
    expect(() => guardForkCode('', settingsOf(creds))).not.toThrow()
  })
})
