// Bitbucket Pipelines: a pull request pipeline's clone has a local merge on top of the source
// branch's commit, which BITBUCKET_COMMIT names. Packaged as the README's npx step.
import type { CiAdapter, CiFacts, Env } from './adapter.js'
import { ciRunTrust } from './trust.js'

function facts(env: Env): CiFacts {
  const pr = env.BITBUCKET_PR_ID ?? ''
  return {
    commit: env.BITBUCKET_COMMIT,
    ciCommit: env.BITBUCKET_COMMIT,
    isPullRequest: pr !== '',
    pullRequest: pr,
    branch: env.BITBUCKET_BRANCH,
    targetBranch: env.BITBUCKET_PR_DESTINATION_BRANCH,
    repository: env.BITBUCKET_REPO_FULL_NAME,
    runUrl:
      env.BITBUCKET_REPO_FULL_NAME && env.BITBUCKET_BUILD_NUMBER
        ? `https://bitbucket.org/${env.BITBUCKET_REPO_FULL_NAME}/pipelines/results/${env.BITBUCKET_BUILD_NUMBER}`
        : '',
    tag: env.BITBUCKET_TAG
  }
}

export const bitbucket: CiAdapter = {
  service: 'bitbucket',
  name: 'Bitbucket Pipelines',
  // BITBUCKET_COMMIT too: env-ci looks for the build number only.
  detect: env => Boolean(env.BITBUCKET_BUILD_NUMBER || env.BITBUCKET_COMMIT),
  facts,
  trust: ciRunTrust,
  secretVariables: ['BITBUCKET_STEP_OIDC_TOKEN'],
  packaging: []
}
