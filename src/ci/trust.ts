// The trust rules every CI shares: a run's trust scope (src/core/trust.ts) from its refs and
// pull request, and the fork-code reason (the fork guard's question). Each CI's own rules are in
// its adapter (src/ci/<ci>.ts): GitHub's events, GitLab's fork merge requests, ...
import { LOCAL_SCOPE, matchTrustedRef, scopeName, type TrustScope } from '../core/trust.js'

export { matchTrustedRef }
import type { Env, Payload } from './adapter.js'

export interface TrustFacts {
  env: Env
  /** GitHub's event payload, null elsewhere. */
  payload: Payload
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

/** A branch or tag run: protected when a tag, the default branch or a trusted ref; else its own. */
export function refScope(f: TrustFacts, what: string): TrustScope {
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

export const untrusted = (name: string, reason: string): TrustScope => ({
  kind: 'untrusted',
  name,
  reason
})

/** `pr-<n>` (`mr-<n>`), or the source branch's scope where the CI gives no number. */
export function numbered(prefix: string, n: string, branch: string): string {
  const digits = n.replace(/\D/g, '').slice(0, 20)
  return digits ? `${prefix}-${digits}` : scopeName('branch', branch || 'unknown')
}

/**
 * A pull request build of a CI that builds forks' with the pipeline's own secrets when told to
 * (Buildkite's agents; CircleCI's "pass secrets to builds from forked pull requests"): `from`
 * is the head repository, `secrets` what the build holds.
 */
export function pullRequestBuild(f: TrustFacts, from: string, secrets: string): Trust {
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

/** A CI with no rule of its own: a pull request is untrusted, a branch or tag as refScope says. */
export function ciRunTrust(f: TrustFacts): Trust {
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

/**
 * Outside any CI the run is the user's own: protected, unless trusted-refs is given and names
 * none of the branch checked out.
 */
export function localTrust(f: TrustFacts): Trust {
  if (f.trustedRefs.length > 0 && f.branch && !matchTrustedRef(f.trustedRefs, f)) {
    const reason = `not in a CI, on ${f.branch}, which trusted-refs does not name`
    return { scope: untrusted(scopeName('branch', f.branch), reason), forkCode: '' }
  }
  return { scope: LOCAL_SCOPE, forkCode: '' }
}
