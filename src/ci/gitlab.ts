// GitLab CI/CD: merge request pipelines (merged results build a merge commit), forks' merge
// requests run in the parent project, protected refs. The CLI's outputs are a dotenv report,
// its problems a code quality report (templates/convox-build.yml), a review app's merge request
// note its publishing (gitlab-note.ts).
import { scopeName } from '../core/trust.js'
import type { CiAdapter, CiFacts, CiPublication, Env } from './adapter.js'
import { upsertReviewNote } from './gitlab-note.js'
import { firstLine } from './read.js'
import { numbered, refScope, untrusted, type Trust, type TrustFacts } from './trust.js'

function facts(env: Env): CiFacts {
  const mr = Boolean(env.CI_MERGE_REQUEST_IID || env.CI_MERGE_REQUEST_ID)
  return {
    // Set in merged-results pipelines only, where CI_COMMIT_SHA is the merge result.
    commit: env.CI_MERGE_REQUEST_SOURCE_BRANCH_SHA || env.CI_COMMIT_SHA,
    ciCommit: env.CI_COMMIT_SHA,
    subject: env.CI_COMMIT_TITLE || firstLine(env.CI_COMMIT_MESSAGE),
    isPullRequest: mr,
    pullRequest: env.CI_MERGE_REQUEST_IID || env.CI_MERGE_REQUEST_ID,
    // A merge request pipeline runs for a new commit; GitLab starts none when it closes, but the
    // review environment's stop job (`environment: action: stop`, its `on_stop`) is the close.
    pullRequestAction: mr && env.CI_ENVIRONMENT_ACTION === 'stop' ? 'closed' : '',
    fromFork: mr && isForkMergeRequest(env),
    branch: mr
      ? env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME
      : env.CI_COMMIT_BRANCH || (env.CI_COMMIT_TAG ? '' : env.CI_COMMIT_REF_NAME),
    targetBranch: mr ? env.CI_MERGE_REQUEST_TARGET_BRANCH_NAME : '',
    defaultBranch: env.CI_DEFAULT_BRANCH,
    repository: env.CI_PROJECT_PATH,
    runUrl:
      env.CI_JOB_URL ||
      env.CI_PIPELINE_URL ||
      // GitLab before 11.1 names no page: the pipeline's, from the project's URL.
      (env.CI_PROJECT_URL && env.CI_PIPELINE_ID
        ? `${env.CI_PROJECT_URL}/pipelines/${env.CI_PIPELINE_ID}`
        : ''),
    tag: env.CI_COMMIT_TAG
  }
}

/** A merge request from another project than the one it merges into. */
function isForkMergeRequest(e: Env): boolean {
  const sourceId = e.CI_MERGE_REQUEST_SOURCE_PROJECT_ID ?? ''
  const target = e.CI_MERGE_REQUEST_PROJECT_ID || e.CI_PROJECT_ID || ''
  return sourceId !== '' && target !== '' && sourceId !== target
}

/** Merge request pipelines, forks' run in the parent project, protected refs. */
function trust(f: TrustFacts): Trust {
  const e = f.env
  if (e.CI_MERGE_REQUEST_IID || e.CI_MERGE_REQUEST_ID) {
    const source = e.CI_MERGE_REQUEST_SOURCE_PROJECT_PATH || e.CI_PROJECT_PATH || ''
    const sourceId = e.CI_MERGE_REQUEST_SOURCE_PROJECT_ID ?? ''
    const fork = isForkMergeRequest(e)
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

/** The review app's one merge request note, where a token is given; a failure only warns. */
async function publish(p: CiPublication): Promise<void> {
  if (!p.gitlabToken || !p.result.review) return
  try {
    const done = await upsertReviewNote(p.result, p.secrets, {
      token: p.gitlabToken,
      env: p.env,
      runUrl: facts(p.env).runUrl ?? ''
    })
    if (done)
      p.logger.info(`Review app note ${done} on merge request !${p.result.review.pullRequest}`)
  } catch (e) {
    p.logger.warning(
      `could not write the review app's merge request note (gitlab-token needs api scope): ${p.secrets.redact((e as Error).message)}`
    )
  }
}

export const gitlab: CiAdapter = {
  service: 'gitlab',
  name: 'GitLab CI/CD',
  detect: env => Boolean(env.GITLAB_CI),
  facts,
  trust,
  secretVariables: ['CI_JOB_TOKEN', 'CI_REGISTRY_PASSWORD', 'CI_JOB_JWT', 'CI_JOB_JWT_V2'],
  // Read whether or not the context found GitLab: the report is written for a failed run too.
  projectDir: env => env.CI_PROJECT_DIR ?? '',
  publish,
  packaging: ['templates/convox-build.yml']
}
