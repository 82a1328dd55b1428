// The commit a build is of (BUILD_GIT_SHA) and the default build description.
import fs from 'node:fs'
import { UserError } from './errors.js'
import type { Exec } from './exec.js'

const PR_EVENTS = ['pull_request', 'pull_request_target']

/** The event payload GitHub wrote for this job, or null outside GitHub / when unreadable. */
export function readEventPayload(env: NodeJS.ProcessEnv): Record<string, unknown> | null {
  const file = env.GITHUB_EVENT_PATH
  if (!file) return null
  try {
    const data: unknown = JSON.parse(fs.readFileSync(file, 'utf8'))
    return data !== null && typeof data === 'object' ? (data as Record<string, unknown>) : null
  } catch {
    return null
  }
}

function pick(obj: unknown, ...keys: string[]): unknown {
  let v = obj
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[k]
  }
  return v
}

/**
 * The commit actually built: on pull_request(_target) events the PR head (GITHUB_SHA is a merge
 * commit there, or the base branch), else GITHUB_SHA, else `git rev-parse HEAD` in cwd.
 */
export async function resolveGitSha(
  env: NodeJS.ProcessEnv,
  cwd: string,
  exec: Exec
): Promise<string> {
  if (PR_EVENTS.includes(env.GITHUB_EVENT_NAME ?? '')) {
    const head = pick(readEventPayload(env), 'pull_request', 'head', 'sha')
    if (typeof head === 'string' && head !== '') return head
  }
  if (env.GITHUB_SHA) return env.GITHUB_SHA
  let result
  try {
    result = await exec('git', ['rev-parse', 'HEAD'], { cwd, env })
  } catch (e) {
    throw new UserError(
      `cannot tell which commit is built: GITHUB_SHA is not set and git failed (${(e as Error).message})`
    )
  }
  const sha = result.stdout.trim()
  if (result.exitCode !== 0 || !/^[0-9a-f]{40,64}$/.test(sha)) {
    throw new UserError(
      `cannot tell which commit is built: GITHUB_SHA is not set and ${cwd} is not in a git repository with a commit`
    )
  }
  return sha
}

/** `build <sha10> <commit subject>`; the subject from git, else from the event payload. */
export async function defaultDescription(
  sha: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  exec: Exec
): Promise<string> {
  const short = sha.slice(0, 10)
  let subject = ''
  if (sha) {
    try {
      const r = await exec('git', ['log', '-1', '--format=%s', sha, '--'], { cwd, env })
      if (r.exitCode === 0) subject = r.stdout.trim()
    } catch {
      // no git: fall back to the payload
    }
  }
  if (!subject) {
    const message = pick(readEventPayload(env), 'head_commit', 'message')
    if (typeof message === 'string') subject = (message.split(/\r?\n/)[0] ?? '').trim()
  }
  return subject ? `build ${short} ${subject}` : `build ${short}`
}
