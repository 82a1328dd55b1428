// Azure Pipelines: BUILD_SOURCEVERSION is the merge commit in pull request builds; the source
// commit is SYSTEM_PULLREQUEST_SOURCECOMMITID. Packaged as the README's npx step.
import type { CiAdapter, CiFacts, Env } from './adapter.js'
import { firstLine, shortRef } from './read.js'
import { ciRunTrust } from './trust.js'

function facts(env: Env): CiFacts {
  const pr = env.SYSTEM_PULLREQUEST_PULLREQUESTNUMBER || env.SYSTEM_PULLREQUEST_PULLREQUESTID
  const source = env.BUILD_SOURCEBRANCH ?? ''
  return {
    commit: env.SYSTEM_PULLREQUEST_SOURCECOMMITID || env.BUILD_SOURCEVERSION,
    ciCommit: env.BUILD_SOURCEVERSION,
    subject: firstLine(env.BUILD_SOURCEVERSIONMESSAGE),
    isPullRequest: Boolean(pr),
    pullRequest: pr,
    branch: pr
      ? shortRef(env.SYSTEM_PULLREQUEST_SOURCEBRANCH)
      : source.startsWith('refs/tags/')
        ? ''
        : shortRef(source),
    targetBranch: pr ? shortRef(env.SYSTEM_PULLREQUEST_TARGETBRANCH) : '',
    repository: env.BUILD_REPOSITORY_NAME,
    runUrl:
      env.SYSTEM_COLLECTIONURI && env.SYSTEM_TEAMPROJECT && env.BUILD_BUILDID
        ? `${env.SYSTEM_COLLECTIONURI.replace(/\/?$/, '/')}${encodeURIComponent(env.SYSTEM_TEAMPROJECT)}/_build/results?buildId=${env.BUILD_BUILDID}`
        : '',
    tag: source.startsWith('refs/tags/') ? source.slice('refs/tags/'.length) : ''
  }
}

export const azurePipelines: CiAdapter = {
  service: 'azurePipelines',
  name: 'Azure Pipelines',
  // TF_BUILD, which Azure documents; env-ci looks for BUILD_BUILDURI.
  detect: env => /^true$/i.test(env.TF_BUILD ?? '') || Boolean(env.BUILD_BUILDURI),
  facts,
  trust: ciRunTrust,
  secretVariables: ['SYSTEM_ACCESSTOKEN'],
  packaging: []
}
