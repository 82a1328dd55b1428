// CircleCI: it builds the pull request's head, and names the fork only for a fork's pull
// request, which it builds with the project's secrets when told to. The orb is orb/.
import type { CiAdapter, CiFacts, Env } from './adapter.js'
import { pullRequestBuild } from './trust.js'

function facts(env: Env): CiFacts {
  const pr = env.CIRCLE_PR_NUMBER || /(\d+)\/?$/.exec(env.CIRCLE_PULL_REQUEST ?? '')?.[1] || ''
  return {
    commit: env.CIRCLE_SHA1,
    ciCommit: env.CIRCLE_SHA1,
    isPullRequest: pr !== '',
    pullRequest: pr,
    branch: env.CIRCLE_BRANCH,
    repository:
      env.CIRCLE_PROJECT_USERNAME && env.CIRCLE_PROJECT_REPONAME
        ? `${env.CIRCLE_PROJECT_USERNAME}/${env.CIRCLE_PROJECT_REPONAME}`
        : '',
    runUrl: env.CIRCLE_BUILD_URL,
    tag: env.CIRCLE_TAG
  }
}

export const circleci: CiAdapter = {
  service: 'circleci',
  name: 'CircleCI',
  detect: env => Boolean(env.CIRCLECI),
  facts,
  trust: f => {
    const { CIRCLE_PR_USERNAME: owner, CIRCLE_PR_REPONAME: name } = f.env
    return pullRequestBuild(f, owner && name ? `${owner}/${name}` : '', "the project's secrets")
  },
  secretVariables: ['CIRCLE_TOKEN'],
  packaging: ['orb/src/@orb.yml']
}
