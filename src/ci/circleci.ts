// CircleCI: it builds the pull request's head, and names the fork only for a fork's pull
// request, which it builds with the project's secrets when told to. The orb is orb/.
import type { CiAdapter, CiFacts, Env } from './adapter.js'
import { agentIdToken } from './id-token.js'
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
  // CIRCLE_OIDC_TOKEN_V2's audience is the organization: Fulcio needs its own, asked of the CLI.
  idToken: (env, audience, io) =>
    env.CIRCLE_OIDC_TOKEN_V2 || env.CIRCLE_OIDC_TOKEN
      ? agentIdToken(
          'circleci',
          ['run', 'oidc', 'get', '--claims', JSON.stringify({ aud: audience })],
          io
        )
      : Promise.resolve(undefined),
  secretVariables: ['CIRCLE_TOKEN', 'CIRCLE_OIDC_TOKEN', 'CIRCLE_OIDC_TOKEN_V2'],
  packaging: ['orb/src/@orb.yml']
}
