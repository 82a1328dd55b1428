// The commit a build is of, as the shell found it (src/ci/context.ts reads each CI's variables and
// git), and what Convox makes of it: the default description, and what a missing commit means.
import type { Problem } from './errors.js'
import { LOCAL_SCOPE, type TrustScope } from './trust.js'

export interface CiContext {
  /** env-ci's id of the CI (github, gitlab, buildkite, circleci, bitbucket, jenkins, azurePipelines, ...); '' outside any CI. */
  service: string
  /** The CI's name for messages ("GitLab CI/CD"); '' outside any CI. */
  name: string
  /** The commit built: the PR/MR head where the CI builds a merge commit; '' when nothing says. */
  commit: string
  /** What said so: the git-sha setting, the CI's variables, or git in the working directory. */
  commitSource: 'setting' | 'ci' | 'git' | ''
  /** First line of the commit's message; '' when unknown. */
  subject: string
  /** The branch built; on a PR/MR its source branch. */
  branch: string
  isPullRequest: boolean
  /** The PR/MR number as the CI shows it; '' when not one. */
  pullRequest: string
  /** What happened to the PR/MR (`opened`, `synchronize`, `reopened`, `closed`); '' when unknown. */
  pullRequestAction: string
  /** The PR/MR comes from a fork. */
  fromFork: boolean
  /** On a PR/MR, the branch it merges into. */
  targetBranch: string
  /** The repository's default branch, where the CI says. */
  defaultBranch: string
  /** `owner/name` (or the CI's project path). */
  repository: string
  /** The page of this run (job or pipeline). */
  runUrl: string
  tag: string
  /** What the run may read and write in the registry and caches (src/core/trust.ts). */
  scope: TrustScope
  /** Why the code built is a fork's in a trigger holding the repository's secrets; '' if not. */
  forkCode: string
}

/** Where no shell said where the build runs: the git-sha setting, else no commit. */
export function noCi(gitSha = ''): CiContext {
  return {
    service: '',
    name: '',
    commit: gitSha,
    commitSource: gitSha ? 'setting' : '',
    subject: '',
    branch: '',
    isPullRequest: false,
    pullRequest: '',
    pullRequestAction: '',
    fromFork: false,
    targetBranch: '',
    defaultBranch: '',
    repository: '',
    runUrl: '',
    tag: '',
    scope: LOCAL_SCOPE,
    forkCode: ''
  }
}

/** `build <sha10> <commit subject>`, the rack's default description; '' without a commit. */
export function defaultDescription(ci: Pick<CiContext, 'commit' | 'subject'>): string {
  if (!ci.commit) return ''
  const short = ci.commit.slice(0, 10)
  return ci.subject ? `build ${short} ${ci.subject}` : `build ${short}`
}

/**
 * Without a commit BUILD_GIT_SHA is empty: a warning, or the problem when a build arg asks for
 * it (a bare `BUILD_GIT_SHA` line of build-args).
 */
export function unknownCommit(
  ci: Pick<CiContext, 'name'>,
  buildArgs: string[],
  workingDirectory: string
): { warning: string } | { problem: Problem } {
  const why = `cannot tell which commit is built: ${ci.name ? `${ci.name} names none` : 'not in a CI'} and ${workingDirectory} is not in a git checkout; give it with git-sha (--git-sha)`
  const line = buildArgs.findIndex(l => l.trim() === 'BUILD_GIT_SHA')
  if (line < 0) return { warning: `${why}: BUILD_GIT_SHA is empty` }
  return { problem: { input: 'build-args', line: line + 1, message: `BUILD_GIT_SHA: ${why}` } }
}
