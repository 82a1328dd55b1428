// GitHub Actions: the event payload, the PR head where GitHub builds a merge commit, and the
// trust rules of pull_request_target and workflow_run, which follow actions/checkout's
// assertSafePrCheckout (src/unsafe-pr-checkout-helper.ts): they run with the base repository's
// secrets and cache scope; a fork is a head repository other than the base's.
// The shell is src/action (outputs, step summary, annotations through @actions/core).
import fs from 'node:fs'
import { scopeName } from '../core/trust.js'
import type { CiAdapter, CiFacts, Env, Payload } from './adapter.js'
import { githubIdToken } from './id-token.js'
import { firstLine, pick, shortRef, str } from './read.js'
import { refScope, numbered, untrusted, type Trust, type TrustFacts } from './trust.js'

const PR_EVENTS = ['pull_request', 'pull_request_target']
/** Events that run the base's workflow with its secrets: what is checked out is what is built. */
const BASE_EVENTS = ['pull_request_target', 'workflow_run']

/** The event payload GitHub wrote for this job, or null outside GitHub / when unreadable. */
export function readEventPayload(env: Env): Payload {
  const file = env.GITHUB_EVENT_PATH
  if (!file) return null
  try {
    const data: unknown = JSON.parse(fs.readFileSync(file, 'utf8'))
    return data !== null && typeof data === 'object' ? (data as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/** The workflow run's page on GitHub. */
export function githubRunUrl(env: Env): string {
  const server = env.GITHUB_SERVER_URL || 'https://github.com'
  return `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
}

/** On an Actions runner: the CLI may use GitHub's cache service as the action does. */
export const onActionsRunner = (env: Env): boolean => env.GITHUB_ACTIONS === 'true'

function facts(env: Env, payload: Payload): CiFacts {
  const pr = PR_EVENTS.includes(env.GITHUB_EVENT_NAME ?? '') || Boolean(env.GITHUB_HEAD_REF)
  const from = (...keys: string[]): string => str(pick(payload, ...keys))
  return {
    // GITHUB_SHA is a merge commit on pull_request events; on BASE_EVENTS it is the base, and
    // git tells what the job checked out (checksOutAnyCommit).
    commit: BASE_EVENTS.includes(env.GITHUB_EVENT_NAME ?? '')
      ? env.GITHUB_SHA
      : (pr && from('pull_request', 'head', 'sha')) || env.GITHUB_SHA,
    ciCommit: env.GITHUB_SHA,
    subject: firstLine(from('head_commit', 'message')),
    isPullRequest: pr,
    pullRequest: pr ? from('pull_request', 'number') || from('number') : '',
    pullRequestAction: pr ? from('action') : '',
    fromFork:
      pr &&
      isFork(
        pick(payload, 'repository', 'id'),
        pick(payload, 'pull_request', 'head', 'repo', 'id'),
        from('repository', 'full_name') || (env.GITHUB_REPOSITORY ?? ''),
        from('pull_request', 'head', 'repo', 'full_name') ||
          from('repository', 'full_name') ||
          (env.GITHUB_REPOSITORY ?? '')
      ),
    branch: pr
      ? env.GITHUB_HEAD_REF || from('pull_request', 'head', 'ref')
      : env.GITHUB_REF_TYPE === 'tag'
        ? ''
        : env.GITHUB_REF_NAME || shortRef(env.GITHUB_REF),
    targetBranch: pr ? env.GITHUB_BASE_REF || from('pull_request', 'base', 'ref') : '',
    defaultBranch: from('repository', 'default_branch'),
    repository: env.GITHUB_REPOSITORY,
    runUrl: env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID ? githubRunUrl(env) : '',
    tag: env.GITHUB_REF_TYPE === 'tag' ? env.GITHUB_REF_NAME : ''
  }
}

const sha = (v: unknown): string => str(v).toLowerCase()

/** The event, and for pull_request_target / workflow_run whether the code is a fork's. */
function trust(f: TrustFacts): Trust {
  const event = f.env.GITHUB_EVENT_NAME ?? ''
  const p = f.payload
  if (!p && (event === 'pull_request_target' || event === 'workflow_run')) {
    return unknownPayload(f, event)
  }
  const baseRepo = str(pick(p, 'repository', 'full_name')) || (f.env.GITHUB_REPOSITORY ?? '')
  const baseId = pick(p, 'repository', 'id')
  if (
    event === 'pull_request' ||
    event === 'pull_request_target' ||
    (f.isPullRequest && event !== 'workflow_run')
  ) {
    const headRepo = str(pick(p, 'pull_request', 'head', 'repo', 'full_name')) || baseRepo
    const fork = isFork(baseId, pick(p, 'pull_request', 'head', 'repo', 'id'), baseRepo, headRepo)
    const n = f.pullRequest || str(pick(p, 'number'))
    const scope = untrusted(
      numbered('pr', n, f.branch),
      `${event || 'pull request'} from ${fork ? 'the fork ' : ''}${headRepo || 'an unknown repository'}`
    )
    const heads = [
      pick(p, 'pull_request', 'head', 'sha'),
      pick(p, 'pull_request', 'merge_commit_sha')
    ]
    const bases = [f.env.GITHUB_SHA, pick(p, 'pull_request', 'base', 'sha')]
    const forkCode =
      event === 'pull_request_target' && fork
        ? forkCodeReason(f, event, headRepo, heads, bases)
        : ''
    return { scope, forkCode }
  }
  if (event === 'workflow_run') return workflowRun(f, baseRepo, baseId)
  return { scope: refScope(f, event || 'run'), forkCode: '' }
}

/** workflow_run: the scope and fork of the run that triggered it. */
function workflowRun(f: TrustFacts, baseRepo: string, baseId: unknown): Trust {
  const run = pick(f.payload, 'workflow_run')
  const runEvent = str(pick(run, 'event'))
  const headRepo = str(pick(run, 'head_repository', 'full_name')) || baseRepo
  const fork = isFork(baseId, pick(run, 'head_repository', 'id'), baseRepo, headRepo)
  const headBranch = str(pick(run, 'head_branch'))
  if (!runEvent.startsWith('pull_request') && !fork) {
    return {
      scope: refScope(
        { ...f, branch: headBranch || f.branch, tag: '' },
        `workflow_run of a ${runEvent || 'run'}`
      ),
      forkCode: ''
    }
  }
  // GitHub leaves pull_requests empty for a fork's: its owner and branch name the scope then.
  const n = str(pick(run, 'pull_requests', '0', 'number'))
  const scope = untrusted(
    n
      ? numbered('pr', n, headBranch)
      : scopeName(
          fork ? 'fork' : 'branch',
          fork ? `${headRepo.split('/')[0]}-${headBranch}` : headBranch
        ),
    `workflow_run of a ${runEvent || 'run'} from ${fork ? 'the fork ' : ''}${headRepo}`
  )
  // Of a pull_request_target run, head_sha is the base branch's (assertSafePrCheckout).
  const heads = [
    pick(run, 'head_commit', 'id'),
    runEvent === 'pull_request_target' ? '' : pick(run, 'head_sha')
  ]
  const bases = [f.env.GITHUB_SHA, runEvent === 'pull_request_target' ? pick(run, 'head_sha') : '']
  return {
    scope,
    forkCode: fork ? forkCodeReason(f, 'workflow_run', headRepo, heads, bases) : ''
  }
}

/**
 * Without its payload a pull_request_target or workflow_run run cannot tell a fork: only the
 * commit the workflow was started on (GITHUB_SHA) is known to be the base's.
 */
function unknownPayload(f: TrustFacts, event: string): Trust {
  const scope = untrusted(scopeName('event', event), `${event} without a readable event payload`)
  const base = sha(f.env.GITHUB_SHA)
  const forkCode =
    f.head && f.head.toLowerCase() === base
      ? ''
      : `${event} without a readable event payload: the commit checked out (${f.head.slice(0, 10) || 'unknown'}) is not GITHUB_SHA`
  return { scope, forkCode }
}

/** A head repository other than the base's: by id where both are given, else by name. */
function isFork(baseId: unknown, headId: unknown, baseRepo: string, headRepo: string): boolean {
  if (typeof baseId === 'number' && typeof headId === 'number') return baseId !== headId
  return Boolean(baseRepo && headRepo) && baseRepo.toLowerCase() !== headRepo.toLowerCase()
}

/**
 * The checked-out commit is the fork's when it is a head the payload names, or not the base:
 * any other tree (a local merge, an unknown HEAD) may hold the fork's code.
 */
function forkCodeReason(
  f: TrustFacts,
  event: string,
  headRepo: string,
  heads: unknown[],
  bases: unknown[]
): string {
  const head = f.head.toLowerCase()
  const base = bases.map(sha).filter(Boolean)
  if (head && base.includes(head) && !heads.map(sha).includes(head)) return ''
  const what = !head
    ? 'the commit checked out is unknown'
    : heads.map(sha).includes(head)
      ? `the commit checked out (${head.slice(0, 10)}) is the fork's head`
      : `the commit checked out (${head.slice(0, 10)}) is not the base (${base[0]?.slice(0, 10) ?? 'unknown'})`
  return `${event} from the fork ${headRepo}: ${what}`
}

export const github: CiAdapter = {
  service: 'github',
  name: 'GitHub Actions',
  // GITHUB_SHA alone too, as convox-build read it before it read CIs.
  detect: env => env.GITHUB_ACTIONS === 'true' || Boolean(env.GITHUB_SHA),
  facts,
  checksOutAnyCommit: env => BASE_EVENTS.includes(env.GITHUB_EVENT_NAME ?? ''),
  trust,
  idToken: githubIdToken,
  secretVariables: ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'GITHUB_TOKEN'],
  packaging: ['action.yml']
}
