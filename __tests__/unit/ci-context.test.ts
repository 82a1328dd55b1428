// The CI context of each CI from its documented variables, push and PR/MR, in a directory that
// is not a git checkout (so only the variables can tell), then with git.
import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readCiContext } from '../../src/ci/context.js'
import { defaultDescription, unknownCommit, type CiContext } from '../../src/core/commit.js'
import { spawnExec } from '../../src/core/exec.js'
import { CI_CASES, MERGE } from '../helpers/ci-cases.js'

const nowhere = fs.mkdtempSync(path.join(os.tmpdir(), 'nogit-'))
const gitEnv = {
  PATH: process.env.PATH,
  HOME: nowhere,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CEILING_DIRECTORIES: os.tmpdir(),
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com'
}

const context = (env: NodeJS.ProcessEnv, cwd = nowhere, gitSha?: string): Promise<CiContext> =>
  readCiContext({ env: { ...gitEnv, ...env }, cwd, exec: spawnExec, gitSha })

describe('readCiContext from each CI variables, outside git', () => {
  it.each(CI_CASES)('%s', async (_name, env, expected) => {
    const { description, ...fields } = expected
    const ci = await context(env)
    expect(ci).toMatchObject(fields)
    expect(defaultDescription(ci)).toBe(description)
  })

  it('outside any CI and outside git: no commit, and a warning or the problem', async () => {
    const ci = await context({})
    expect(ci).toMatchObject({ service: '', commit: '', commitSource: '', subject: '' })
    expect(defaultDescription(ci)).toBe('')
    expect(unknownCommit(ci, ['VERSION=1'], nowhere)).toEqual({
      warning: expect.stringMatching(/cannot tell which commit is built.*BUILD_GIT_SHA is empty/)
    })
    expect(unknownCommit(ci, ['VERSION=1', ' BUILD_GIT_SHA'], nowhere)).toEqual({
      problem: { input: 'build-args', line: 2, message: expect.stringMatching(/--git-sha/) }
    })
  })

  it('the git-sha setting wins over the CI', async () => {
    const ci = await context({ GITLAB_CI: 'true', CI_COMMIT_SHA: MERGE }, nowhere, 'cafe1234')
    expect(ci).toMatchObject({ commit: 'cafe1234', commitSource: 'setting', subject: '' })
  })

  it('a setting that looks like a git option never reaches git', async () => {
    const ci = await context({}, nowhere, '--output=/tmp/x')
    expect(ci.commit).toBe('--output=/tmp/x')
    expect(fs.existsSync('/tmp/x')).toBe(false)
  })
})

async function repo(subject: string): Promise<{ dir: string; sha: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'git-'))
  const git = (...args: string[]) => spawnExec('git', args, { cwd: dir, env: gitEnv })
  await git('init', '-q', '-b', 'main')
  fs.writeFileSync(path.join(dir, 'f'), 'x')
  await git('add', 'f')
  await git('commit', '-q', '-m', subject)
  const sha = (await git('rev-parse', 'HEAD')).stdout.trim()
  return { dir, sha }
}

describe('readCiContext with git', () => {
  it('outside any CI: HEAD and its subject', async () => {
    const { dir, sha } = await repo('Fix login\n\nbody')
    const ci = await context({}, dir)
    expect(ci).toMatchObject({ commit: sha, commitSource: 'git', subject: 'Fix login' })
    expect(defaultDescription(ci)).toBe(`build ${sha.slice(0, 10)} Fix login`)
  })

  it("the subject comes from git before the CI's variables", async () => {
    const { dir, sha } = await repo('From git')
    const ci = await context({ GITLAB_CI: 'true', CI_COMMIT_SHA: sha, CI_COMMIT_TITLE: 'X' }, dir)
    expect(ci.subject).toBe('From git')
  })

  it("Buildkite's BUILDKITE_COMMIT=HEAD: the commit checked out", async () => {
    const { dir, sha } = await repo('Manual build')
    const ci = await context({ BUILDKITE: 'true', BUILDKITE_COMMIT: 'HEAD' }, dir)
    expect(ci).toMatchObject({ commit: sha, commitSource: 'git', subject: 'Manual build' })
  })

  it('Bitbucket PR pipelines merge locally: BITBUCKET_COMMIT, not HEAD', async () => {
    const { dir, sha } = await repo('The head')
    const git = (...args: string[]) => spawnExec('git', args, { cwd: dir, env: gitEnv })
    await git('commit', '-q', '--allow-empty', '-m', 'Local merge')
    const ci = await context(
      { BITBUCKET_BUILD_NUMBER: '1', BITBUCKET_COMMIT: sha, BITBUCKET_PR_ID: '2' },
      dir
    )
    expect(ci).toMatchObject({ commit: sha, subject: 'The head' })
  })
})
