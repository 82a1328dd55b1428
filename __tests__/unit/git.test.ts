import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { UserError } from '../../src/core/errors.js'
import { spawnExec } from '../../src/core/exec.js'
import { defaultDescription, resolveGitSha } from '../../src/core/git.js'

const events = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/events')
const GITHUB_SHA = '5555555555444444444433333333332222222222'
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

async function repo(subject: string): Promise<{ dir: string; sha: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'git-'))
  const git = (...args: string[]) => spawnExec('git', args, { cwd: dir, env: gitEnv })
  await git('init', '-q')
  fs.writeFileSync(path.join(dir, 'f'), 'x')
  await git('add', 'f')
  await git('commit', '-q', '-m', subject)
  const sha = (await git('rev-parse', 'HEAD')).stdout.trim()
  return { dir, sha }
}

describe('resolveGitSha', () => {
  it.each([
    [
      'pull_request: the PR head',
      'pull_request',
      'pull_request.json',
      '0123456789abcdef0123456789abcdef01234567'
    ],
    [
      'pull_request_target: the PR head',
      'pull_request_target',
      'pull_request_target.json',
      'aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd'
    ],
    ['push: GITHUB_SHA', 'push', 'push.json', GITHUB_SHA],
    ['pull_request without a payload: GITHUB_SHA', 'pull_request', 'missing.json', GITHUB_SHA]
  ])('%s', async (_n, event, file, expected) => {
    const env = { GITHUB_EVENT_NAME: event, GITHUB_EVENT_PATH: path.join(events, file), GITHUB_SHA }
    expect(await resolveGitSha(env, nowhere, spawnExec)).toBe(expected)
  })

  it('outside GitHub: git rev-parse HEAD in cwd', async () => {
    const { dir, sha } = await repo('First commit')
    expect(await resolveGitSha({ ...gitEnv }, dir, spawnExec)).toBe(sha)
  })

  it('outside GitHub and outside a git repository: a UserError', async () => {
    await expect(resolveGitSha({ ...gitEnv }, nowhere, spawnExec)).rejects.toThrow(UserError)
    await expect(resolveGitSha({ ...gitEnv }, nowhere, spawnExec)).rejects.toThrow(
      /GITHUB_SHA is not set/
    )
  })
})

describe('defaultDescription', () => {
  it('build <sha10> <subject from git>', async () => {
    const { dir, sha } = await repo('Fix login\n\nbody')
    expect(await defaultDescription(sha, gitEnv, dir, spawnExec)).toBe(
      `build ${sha.slice(0, 10)} Fix login`
    )
  })

  it('falls back to the payload head_commit subject', async () => {
    const env = { ...gitEnv, GITHUB_EVENT_PATH: path.join(events, 'push.json') }
    expect(
      await defaultDescription('9999999999888888888877777777776666666666', env, nowhere, spawnExec)
    ).toBe('build 9999999999 Add the cache service')
  })

  it('falls back to build <sha10>', async () => {
    const env = { ...gitEnv, GITHUB_EVENT_PATH: path.join(events, 'pull_request.json') }
    expect(await defaultDescription('0123456789abcdef', env, nowhere, spawnExec)).toBe(
      'build 0123456789'
    )
  })
})
