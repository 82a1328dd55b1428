// Where the build runs, for both shells: which CI, the commit built, its branch and repository,
// the run's URL. The core takes the answer (CiContext) and knows no CI itself.
// env-ci detects the CI and reads its common variables; what it leaves out or gets wrong for a
// build (the PR/MR head where the CI builds a merge commit, default branches, run URLs, commit
// subjects) is read here from each CI's documented variables.
import fs from 'node:fs'
import envCi, { type EnvCiResult } from 'env-ci'
import type { CiContext } from '../core/commit.js'
import type { Exec } from '../core/exec.js'
import { trustOf } from './trust.js'

interface CiContextOptions {
  env: NodeJS.ProcessEnv
  /** The source root: git runs here. */
  cwd: string
  exec: Exec
  /** The git-sha setting: wins over anything detected. */
  gitSha?: string
  /** The trusted-refs setting (src/ci/trust.ts). */
  trustedRefs?: string[]
  signal?: AbortSignal
}

/** What a CI's variables say, beyond env-ci. */
interface CiFacts {
  /** The commit built (the head where the CI builds a merge commit). */
  commit?: string
  /** The CI's own commit variable: its subject variable is about this commit only. */
  ciCommit?: string
  subject?: string
  branch?: string
  isPullRequest?: boolean
  pullRequest?: string
  targetBranch?: string
  defaultBranch?: string
  repository?: string
  runUrl?: string
  tag?: string
}

type Env = NodeJS.ProcessEnv
type Payload = Record<string, unknown> | null

const PR_EVENTS = ['pull_request', 'pull_request_target']
/** Events that run the base's workflow with its secrets: what is checked out is what is built. */
const BASE_EVENTS = ['pull_request_target', 'workflow_run']

const firstLine = (s: string | undefined): string => (s ?? '').split(/\r?\n/)[0]?.trim() ?? ''
/** `refs/heads/x` → `x`. */
const shortRef = (s: string | undefined): string => (s ?? '').replace(/^refs\/heads\//, '')
/** `a/b/c` from a clone URL (`git@host:a/b/c.git`, `https://host/a/b/c.git`). */
function slugOf(url: string | undefined): string {
  if (!url) return ''
  const ssh = /^[^@/]+@[^:/]+:(?:\d+\/)?(.+?)(?:\.git)?\/?$/.exec(url)
  if (ssh) return ssh[1] ?? ''
  try {
    return new URL(url).pathname.replace(/^\/+/, '').replace(/(?:\.git)?\/?$/, '')
  } catch {
    return ''
  }
}

function pick(obj: unknown, ...keys: string[]): string {
  let v = obj
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return ''
    v = (v as Record<string, unknown>)[k]
  }
  return typeof v === 'string' || typeof v === 'number' ? String(v) : ''
}

/** The event payload GitHub wrote for this job, or null outside GitHub / when unreadable. */
function readEventPayload(env: Env): Payload {
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

// Each CI's documented variables (links in the README's sections); GitHub's event payload too.
const SERVICES: Record<string, (env: Env, payload: Payload) => CiFacts> = {
  github: (env, payload) => {
    const pr = PR_EVENTS.includes(env.GITHUB_EVENT_NAME ?? '') || Boolean(env.GITHUB_HEAD_REF)
    return {
      // GITHUB_SHA is a merge commit on pull_request events; on BASE_EVENTS it is the base, and
      // git tells what the job checked out (readCiContext).
      commit: BASE_EVENTS.includes(env.GITHUB_EVENT_NAME ?? '')
        ? env.GITHUB_SHA
        : (pr && pick(payload, 'pull_request', 'head', 'sha')) || env.GITHUB_SHA,
      ciCommit: env.GITHUB_SHA,
      subject: firstLine(pick(payload, 'head_commit', 'message')),
      isPullRequest: pr,
      pullRequest: pr ? pick(payload, 'pull_request', 'number') || pick(payload, 'number') : '',
      branch: pr
        ? env.GITHUB_HEAD_REF || pick(payload, 'pull_request', 'head', 'ref')
        : env.GITHUB_REF_TYPE === 'tag'
          ? ''
          : env.GITHUB_REF_NAME || shortRef(env.GITHUB_REF),
      targetBranch: pr ? env.GITHUB_BASE_REF || pick(payload, 'pull_request', 'base', 'ref') : '',
      defaultBranch: pick(payload, 'repository', 'default_branch'),
      repository: env.GITHUB_REPOSITORY,
      runUrl: env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID ? githubRunUrl(env) : '',
      tag: env.GITHUB_REF_TYPE === 'tag' ? env.GITHUB_REF_NAME : ''
    }
  },
  gitlab: env => {
    const mr = Boolean(env.CI_MERGE_REQUEST_IID || env.CI_MERGE_REQUEST_ID)
    return {
      // Set in merged-results pipelines only, where CI_COMMIT_SHA is the merge result.
      commit: env.CI_MERGE_REQUEST_SOURCE_BRANCH_SHA || env.CI_COMMIT_SHA,
      ciCommit: env.CI_COMMIT_SHA,
      subject: env.CI_COMMIT_TITLE || firstLine(env.CI_COMMIT_MESSAGE),
      isPullRequest: mr,
      pullRequest: env.CI_MERGE_REQUEST_IID || env.CI_MERGE_REQUEST_ID,
      branch: mr
        ? env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME
        : env.CI_COMMIT_BRANCH || (env.CI_COMMIT_TAG ? '' : env.CI_COMMIT_REF_NAME),
      targetBranch: mr ? env.CI_MERGE_REQUEST_TARGET_BRANCH_NAME : '',
      defaultBranch: env.CI_DEFAULT_BRANCH,
      repository: env.CI_PROJECT_PATH,
      runUrl: env.CI_JOB_URL || env.CI_PIPELINE_URL,
      tag: env.CI_COMMIT_TAG
    }
  },
  buildkite: env => {
    const pr = env.BUILDKITE_PULL_REQUEST && env.BUILDKITE_PULL_REQUEST !== 'false'
    return {
      // The PR's head, also when the agent checks out the merge refspec.
      commit: env.BUILDKITE_COMMIT,
      ciCommit: env.BUILDKITE_COMMIT,
      subject: firstLine(env.BUILDKITE_MESSAGE),
      isPullRequest: Boolean(pr),
      pullRequest: pr ? env.BUILDKITE_PULL_REQUEST : '',
      branch: env.BUILDKITE_BRANCH,
      targetBranch: pr ? env.BUILDKITE_PULL_REQUEST_BASE_BRANCH : '',
      defaultBranch: env.BUILDKITE_PIPELINE_DEFAULT_BRANCH,
      repository: slugOf(env.BUILDKITE_REPO),
      runUrl:
        env.BUILDKITE_BUILD_URL && env.BUILDKITE_JOB_ID
          ? `${env.BUILDKITE_BUILD_URL}#${env.BUILDKITE_JOB_ID}`
          : env.BUILDKITE_BUILD_URL,
      tag: env.BUILDKITE_TAG
    }
  },
  circleci: env => {
    const pr = env.CIRCLE_PR_NUMBER || /(\d+)\/?$/.exec(env.CIRCLE_PULL_REQUEST ?? '')?.[1] || ''
    return {
      // CircleCI builds the PR's head.
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
  },
  bitbucket: env => {
    const pr = env.BITBUCKET_PR_ID ?? ''
    return {
      // The source branch's commit; a PR pipeline's clone has a local merge on top of it.
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
  },
  jenkins: env => {
    // Multibranch pipelines (CHANGE_*), the GitHub pull request builder (ghprb*) and the GitLab
    // plugin (gitlab*); GIT_COMMIT is what the git plugin checked out, a merge where it merges.
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
  },
  azurePipelines: env => {
    const pr = env.SYSTEM_PULLREQUEST_PULLREQUESTNUMBER || env.SYSTEM_PULLREQUEST_PULLREQUESTID
    const source = env.BUILD_SOURCEBRANCH ?? ''
    return {
      // BUILD_SOURCEVERSION is the merge commit in PR builds.
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
}

/**
 * The variables each CI documents as saying it is there, where env-ci looks for another one
 * (Azure's TF_BUILD, not BUILD_BUILDURI; Bitbucket's BITBUCKET_COMMIT without a build number);
 * used only when env-ci finds no CI.
 */
const DETECT: { service: string; name: string; detect: (env: Env) => boolean }[] = [
  // GITHUB_SHA alone too, as convox-build read it before it read CIs.
  {
    service: 'github',
    name: 'GitHub Actions',
    detect: env => env.GITHUB_ACTIONS === 'true' || Boolean(env.GITHUB_SHA)
  },
  { service: 'gitlab', name: 'GitLab CI/CD', detect: env => Boolean(env.GITLAB_CI) },
  { service: 'buildkite', name: 'Buildkite', detect: env => Boolean(env.BUILDKITE) },
  { service: 'circleci', name: 'CircleCI', detect: env => Boolean(env.CIRCLECI) },
  {
    service: 'bitbucket',
    name: 'Bitbucket Pipelines',
    detect: env => Boolean(env.BITBUCKET_BUILD_NUMBER || env.BITBUCKET_COMMIT)
  },
  {
    service: 'jenkins',
    name: 'Jenkins',
    detect: env => Boolean(env.JENKINS_URL || env.JENKINS_HOME)
  },
  {
    service: 'azurePipelines',
    name: 'Azure Pipelines',
    detect: env => /^true$/i.test(env.TF_BUILD ?? '') || Boolean(env.BUILD_BUILDURI)
  }
]

/** env-ci's answer; a GitHub event file that cannot be read makes it throw, so it is left out. */
function detect(env: Env, cwd: string, payload: Payload): EnvCiResult {
  const clean = { ...env }
  if (clean.GITHUB_EVENT_PATH && payload === null) delete clean.GITHUB_EVENT_PATH
  try {
    return envCi({ env: clean, cwd })
  } catch {
    return { isCi: Boolean(env.CI) }
  }
}

const SHA = /^[0-9a-f]{7,64}$/i
const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v))

/** The CI context of this run; git in `cwd` fills in what the CI does not say. */
export async function readCiContext(options: CiContextOptions): Promise<CiContext> {
  const { env, cwd, exec } = options
  // env-ci runs git synchronously outside a CI: after the caller has started the engine's probe.
  await new Promise(resolve => setImmediate(resolve))
  const payload = readEventPayload(env)
  const detected = detect(env, cwd, payload)
  const own = detected.service ? undefined : DETECT.find(d => d.detect(env))
  // What env-ci read of git outside a CI is not the CI's word: the facts below are.
  const base: EnvCiResult = own ? { isCi: true, service: own.service, name: own.name } : detected
  const service = base.service ?? ''
  const facts: CiFacts = service ? (SERVICES[service]?.(env, payload) ?? {}) : {}
  const git = async (...args: string[]): Promise<string> => {
    try {
      const r = await exec('git', args, { cwd, env, signal: options.signal })
      return r.exitCode === 0 ? r.stdout.trim() : ''
    } catch {
      return ''
    }
  }

  // Where the base's workflow may check out anything: the commit checked out.
  const checkedOut =
    service === 'github' && BASE_EVENTS.includes(env.GITHUB_EVENT_NAME ?? '')
      ? await git('rev-parse', '--verify', '--quiet', 'HEAD^{commit}')
      : ''
  const headSha = SHA.test(checkedOut) ? checkedOut.toLowerCase() : ''

  let commit = ''
  let commitSource: CiContext['commitSource'] = ''
  let subject = ''
  const ciCommit = service ? text(facts.commit || base.commit).trim() : ''
  if (options.gitSha) {
    commit = options.gitSha
    commitSource = 'setting'
  } else if (headSha) {
    commit = headSha
    commitSource = 'git'
  } else if (SHA.test(ciCommit)) {
    commit = ciCommit.toLowerCase()
    commitSource = 'ci'
  } else {
    // No CI, or one that names no commit (Buildkite's "HEAD"): what is checked out, and its
    // subject, from one git process.
    const [head = '', headSubject = ''] = (
      await git('log', '-1', '--format=%H%n%s', 'HEAD', '--')
    ).split('\n')
    if (SHA.test(head)) {
      commit = head
      commitSource = 'git'
      subject = headSubject.trim()
    }
  }

  // Only a hex commit reaches git's argv: a setting starting with `-` would be an option.
  if (!subject && SHA.test(commit)) {
    subject = firstLine(await git('log', '-1', '--format=%s', commit, '--'))
  }
  if (!subject && commit && facts.subject && text(facts.ciCommit).toLowerCase() === commit) {
    subject = facts.subject
  }

  const isPullRequest = facts.isPullRequest ?? Boolean(base.isPr)
  const where = {
    branch: text(facts.branch ?? (isPullRequest ? base.prBranch : base.branch)),
    pullRequest: text(facts.pullRequest ?? base.pr),
    defaultBranch: text(facts.defaultBranch),
    repository: text(facts.repository ?? base.slug),
    tag: text(facts.tag ?? base.tag)
  }
  const trust = trustOf({
    ...where,
    service,
    env,
    payload,
    isPullRequest,
    head: headSha,
    trustedRefs: options.trustedRefs ?? []
  })
  return {
    service,
    name: base.name ?? '',
    commit,
    commitSource,
    subject,
    ...where,
    isPullRequest,
    targetBranch: text(facts.targetBranch ?? (isPullRequest ? base.branch : '')),
    runUrl: text(facts.runUrl ?? (base.buildUrl?.includes('undefined') ? '' : base.buildUrl)),
    ...trust
  }
}
