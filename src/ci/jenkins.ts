// Jenkins: multibranch pipelines (CHANGE_*), the GitHub pull request builder (ghprb*) and the
// GitLab plugin (gitlab*); GIT_COMMIT is what the git plugin checked out, a merge where it
// merges. Packaged as the README's npx step.
import type { CiAdapter, CiFacts, Env } from './adapter.js'
import { slugOf } from './read.js'
import { ciRunTrust } from './trust.js'

function facts(env: Env): CiFacts {
  const pr = env.CHANGE_ID || env.ghprbPullId || env.gitlabMergeRequestIid || ''
  return {
    commit: env.ghprbActualCommit || env.gitlabMergeRequestLastCommit || env.GIT_COMMIT,
    ciCommit: env.GIT_COMMIT,
    isPullRequest: pr !== '',
    pullRequest: pr,
    branch: pr
      ? env.CHANGE_BRANCH || env.ghprbSourceBranch || env.gitlabSourceBranch
      : env.BRANCH_NAME ||
        env.GIT_LOCAL_BRANCH ||
        (env.GIT_BRANCH ?? '').replace(/^(?:refs\/heads\/|origin\/)/, ''),
    targetBranch: pr ? env.CHANGE_TARGET || env.ghprbTargetBranch || env.gitlabTargetBranch : '',
    repository: slugOf(env.GIT_URL),
    runUrl: env.BUILD_URL,
    tag: env.TAG_NAME
  }
}

export const jenkins: CiAdapter = {
  service: 'jenkins',
  name: 'Jenkins',
  detect: env => Boolean(env.JENKINS_URL || env.JENKINS_HOME),
  facts,
  trust: ciRunTrust,
  secretVariables: [],
  packaging: []
}
