// Where the build runs, for both shells: which CI, the commit built, its branch and repository,
// the run's URL, its trust scope. The core takes the answer (CiContext) and knows no CI itself.
// Each CI's adapter (src/ci/<ci>.ts) reads its documented variables; env-ci detects the CI first
// and answers for the CIs without an adapter (other.ts); git fills in what the CI does not say.
import type { CiContext } from '../core/commit.js'
import { noCi } from '../core/commit.js'
import type { Exec } from '../core/exec.js'
import type { Settings } from '../core/settings.js'
import { readEventPayload } from './github.js'
import { adapterOf } from './index.js'
import { runEnvCi } from './other.js'
import { firstLine } from './read.js'

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

const SHA = /^[0-9a-f]{7,64}$/i
const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v))

/** The CI context of this run; git in `cwd` fills in what the CI does not say. */
export async function readCiContext(options: CiContextOptions): Promise<CiContext> {
  const { env, cwd, exec } = options
  // env-ci runs git synchronously outside a CI: after the caller has started the engine's probe.
  await new Promise(resolve => setImmediate(resolve))
  const payload = readEventPayload(env)
  const ci = adapterOf(runEnvCi(env, cwd, payload), env)
  const facts = ci.facts(env, payload)
  const git = async (...args: string[]): Promise<string> => {
    try {
      const r = await exec('git', args, { cwd, env, signal: options.signal })
      return r.exitCode === 0 ? r.stdout.trim() : ''
    } catch {
      return ''
    }
  }

  // Where the job may check out anything: the commit checked out.
  const checkedOut = ci.checksOutAnyCommit?.(env)
    ? await git('rev-parse', '--verify', '--quiet', 'HEAD^{commit}')
    : ''
  const headSha = SHA.test(checkedOut) ? checkedOut.toLowerCase() : ''

  let commit = ''
  let commitSource: CiContext['commitSource'] = ''
  let subject = ''
  const ciCommit = text(facts.commit).trim()
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

  const where = {
    branch: text(facts.branch),
    pullRequest: text(facts.pullRequest),
    defaultBranch: text(facts.defaultBranch),
    repository: text(facts.repository),
    tag: text(facts.tag)
  }
  const isPullRequest = facts.isPullRequest
  const trust = ci.trust({
    ...where,
    env,
    payload,
    isPullRequest,
    head: headSha,
    trustedRefs: options.trustedRefs ?? []
  })
  return {
    service: ci.service,
    name: ci.name,
    commit,
    commitSource,
    subject,
    ...where,
    isPullRequest,
    pullRequestAction: text(facts.pullRequestAction),
    fromFork: facts.fromFork ?? false,
    targetBranch: text(facts.targetBranch),
    runUrl: text(facts.runUrl),
    ...trust
  }
}

/** The CI context of a run, started now (the pipeline awaits it when it needs the commit). */
export function ciOf(
  settings: Pick<Settings, 'workingDirectory' | 'gitSha' | 'trustedRefs'>,
  env: NodeJS.ProcessEnv,
  exec: Exec,
  signal?: AbortSignal
): Promise<CiContext> {
  return readCiContext({
    env,
    cwd: settings.workingDirectory,
    exec,
    gitSha: settings.gitSha,
    trustedRefs: settings.trustedRefs,
    signal
  }).catch(() => noCi(settings.gitSha))
}
