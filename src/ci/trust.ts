// A run's trust scope (src/core/trust.ts) from what its CI tells, and whether the code built is
// a fork's in a trigger that holds the repository's secrets (the fork guard's question).
// The GitHub rules follow actions/checkout's assertSafePrCheckout (src/unsafe-pr-checkout-helper.ts):
// pull_request_target and workflow_run of a pull request run with the base repository's secrets
// and cache scope; a fork is a head repository other than the base's.
import { LOCAL_SCOPE, scopeName, type TrustScope } from '../core/trust.js'

type Env = NodeJS.ProcessEnv

export interface TrustFacts {
  service: string
  env: Env
  /** GitHub's event payload, null elsewhere. */
  payload: Record<string, unknown> | null
  /** The branch built (on a PR/MR its source), the tag, the default branch, as the CI says. */
  branch: string
  tag: string
  defaultBranch: string
  pullRequest: string
  isPullRequest: boolean
  repository: string
  /** The commit checked out (`git rev-parse HEAD`), '' when unknown. */
  head: string
  /** The trusted-refs setting: ref globs that are protected besides the default branch and tags. */
  trustedRefs: string[]
}

export interface Trust {
  scope: TrustScope
  /** Why the code built is a fork's in a trigger with secrets; '' when it is not. */
  forkCode: string
}

function pick(obj: unknown, ...keys: string[]): unknown {
  let v = obj
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[k]
  }
  return v
}
const str = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' ? String(v) : ''
const sha = (v: unknown): string => str(v).toLowerCase()

/** A trusted-refs glob as a regular expression: `*` within one path segment, `**` across. */
function globRegExp(glob: string): RegExp {
  const body = glob
    .split(/(\*\*|\*|\?)/)
    .map(p =>
      p === '**'
        ? '.*'
        : p === '*'
          ? '[^/]*'
          : p === '?'
            ? '[^/]'
            : p.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    )
    .join('')
  return new RegExp(`^${body}$`)
}

/** The trusted-refs entry a ref matches: `refs/...` globs against the full ref, others the name. */
export function matchTrustedRef(
  globs: string[],
  ref: { branch?: string; tag?: string }
): string | undefined {
  const full = ref.tag ? `refs/tags/${ref.tag}` : ref.branch ? `refs/heads/${ref.branch}` : ''
  const name = ref.tag || ref.branch || ''
  if (!name) return undefined
  return globs.find(g => globRegExp(g).test(g.startsWith('refs/') ? full : name))
}

/** A branch or tag run: protected when a tag, the default branch or a trusted ref; else its own. */
function refScope(f: TrustFacts, what: string): TrustScope {
  if (f.tag)
    return { kind: 'protected', name: scopeName('tag', f.tag), reason: `${what} of tag ${f.tag}` }
  const branch = f.branch
  if (!branch) {
    return {
      kind: 'untrusted',
      name: 'unknown-ref',
      reason: `${what} of no branch or tag the CI names`
    }
  }
  const name = scopeName('', branch)
  const trusted = matchTrustedRef(f.trustedRefs, { branch })
  if (trusted) {
    return { kind: 'protected', name, reason: `${what} on ${branch} (trusted-refs: ${trusted})` }
  }
  // A CI that names no default branch (CircleCI, Jenkins, Bitbucket): main and master are.
  const defaults = f.defaultBranch ? [f.defaultBranch] : ['main', 'master']
  if (defaults.includes(branch)) {
    return { kind: 'protected', name, reason: `${what} on ${branch}, the default branch` }
  }
  return {
    kind: 'untrusted',
    name: scopeName('branch', branch),
    reason: `${what} on ${branch}, not the default branch (${defaults.join(' or ')}) nor in trusted-refs`
  }
}

const untrusted = (name: string, reason: string): TrustScope => ({
  kind: 'untrusted',
  name,
  reason
})

/** `pr-<n>` (`mr-<n>`), or the source branch's scope where the CI gives no number. */
function numbered(prefix: string, n: string, branch: string): string {
  const digits = n.replace(/\D/g, '').slice(0, 20)
  return digits ? `${prefix}-${digits}` : scopeName('branch', branch || 'unknown')
}

/** GitHub: the event, and for pull_request_target / workflow_run whether the code is a fork's. */
function github(f: TrustFacts): Trust {
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
  if (event === 'workflow_run') {
    const run = pick(p, 'workflow_run')
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
    const bases = [
      f.env.GITHUB_SHA,
      runEvent === 'pull_request_target' ? pick(run, 'head_sha') : ''
    ]
    return { scope, forkCode: fork ? forkCodeReason(f, event, headRepo, heads, bases) : '' }
  }
  return { scope: refScope(f, event || 'run'), forkCode: '' }
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

/** GitLab: merge request pipelines, forks' run in the parent project, protected refs. */
function gitlab(f: TrustFacts): Trust {
  const e = f.env
  if (e.CI_MERGE_REQUEST_IID || e.CI_MERGE_REQUEST_ID) {
    const source = e.CI_MERGE_REQUEST_SOURCE_PROJECT_PATH || e.CI_PROJECT_PATH || ''
    const sourceId = e.CI_MERGE_REQUEST_SOURCE_PROJECT_ID ?? ''
    const target = e.CI_MERGE_REQUEST_PROJECT_ID || e.CI_PROJECT_ID || ''
    const fork = sourceId !== '' && target !== '' && sourceId !== target
    const iid = (e.CI_MERGE_REQUEST_IID || e.CI_MERGE_REQUEST_ID || '').replace(/\D/g, '')
    const scope = untrusted(
      numbered('mr', iid, f.branch),
      `merge request !${iid} from ${fork ? 'the fork ' : ''}${source}`
    )
    // The parent project runs a fork's merge request with its own variables (GitLab's
    // "Run pipelines in the parent project for merge requests from forked projects").
    const inParent = fork && e.CI_PROJECT_ID !== undefined && e.CI_PROJECT_ID !== sourceId
    return {
      scope,
      forkCode: inParent
        ? `merge request !${iid} from the fork ${source} runs in ${e.CI_PROJECT_PATH ?? 'the parent project'} with its variables`
        : ''
    }
  }
  if (!f.tag && e.CI_COMMIT_REF_PROTECTED === 'true' && f.branch) {
    return {
      scope: {
        kind: 'protected',
        name: scopeName('', f.branch),
        reason: `pipeline on ${f.branch}, a protected branch`
      },
      forkCode: ''
    }
  }
  return { scope: refScope(f, 'pipeline'), forkCode: '' }
}

/**
 * A pull request build of a CI that builds forks' with the pipeline's own secrets when told to
 * (Buildkite's agents; CircleCI's "pass secrets to builds from forked pull requests").
 */
function pullRequestBuild(f: TrustFacts, from: string, secrets: string): Trust {
  if (!f.isPullRequest) return { scope: refScope(f, 'build'), forkCode: '' }
  const fork =
    from !== '' && f.repository !== '' && from.toLowerCase() !== f.repository.toLowerCase()
  const n = f.pullRequest.replace(/\D/g, '')
  return {
    scope: untrusted(
      numbered('pr', n, f.branch),
      `pull request #${n} from ${fork ? 'the fork ' : ''}${from || f.repository}`
    ),
    forkCode: fork ? `pull request #${n} from the fork ${from} is built with ${secrets}` : ''
  }
}

/** `owner/name` of a clone URL. */
function slug(url: string | undefined): string {
  const m = /[:/]([^/:]+\/[^/]+?)(?:\.git)?\/?$/.exec(url ?? '')
  return m?.[1] ?? ''
}

/**
 * The run's trust scope and fork-code reason. Outside any CI the run is the user's own:
 * protected, unless trusted-refs is given and names none of the branch checked out.
 */
export function trustOf(f: TrustFacts): Trust {
  switch (f.service) {
    case 'github':
      return github(f)
    case 'gitlab':
      return gitlab(f)
    case 'buildkite':
      return pullRequestBuild(f, slug(f.env.BUILDKITE_PULL_REQUEST_REPO), "the pipeline's agents")
    case 'circleci': {
      // CircleCI names the fork only for a fork's pull request.
      const { CIRCLE_PR_USERNAME: owner, CIRCLE_PR_REPONAME: name } = f.env
      return pullRequestBuild(f, owner && name ? `${owner}/${name}` : '', "the project's secrets")
    }
    case '':
      if (f.trustedRefs.length > 0 && f.branch && !matchTrustedRef(f.trustedRefs, f)) {
        const reason = `not in a CI, on ${f.branch}, which trusted-refs does not name`
        return { scope: untrusted(scopeName('branch', f.branch), reason), forkCode: '' }
      }
      return { scope: LOCAL_SCOPE, forkCode: '' }
    default: {
      if (f.isPullRequest) {
        const n = f.pullRequest.replace(/\D/g, '')
        return {
          scope: untrusted(
            numbered('pr', n, f.branch),
            `pull request #${n} from ${f.repository || 'an unknown repository'}`
          ),
          forkCode: ''
        }
      }
      return { scope: refScope(f, 'build'), forkCode: '' }
    }
  }
}
