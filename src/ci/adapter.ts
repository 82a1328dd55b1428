// What convox-build knows of one CI, in one file per CI (src/ci/<ci>.ts) listed in one table
// (src/ci/index.ts). The shared rules stay outside: the commit and subject from git
// (context.ts), the trust rules every CI shares (trust.ts), the CLI's files (src/cli/report.ts).
import type { Exec } from '../core/exec.js'
import type { Logger } from '../core/log.js'
import type { PipelineResult } from '../core/pipeline/index.js'
import type { Redactor } from '../core/secrets.js'
import type { IdTokenIo } from './id-token.js'
import type { Trust, TrustFacts } from './trust.js'

export type Env = NodeJS.ProcessEnv
/** GitHub's event payload (GITHUB_EVENT_PATH); null elsewhere or when unreadable. */
export type Payload = Record<string, unknown> | null

/** What a CI's variables say about the run, before git is asked. */
export interface CiFacts {
  /** The commit built (the head where the CI builds a merge commit). */
  commit?: string
  /** The CI's own commit variable: its subject variable is about this commit only. */
  ciCommit?: string
  subject?: string
  branch?: string
  isPullRequest: boolean
  pullRequest?: string
  /** What happened to the PR/MR (GitHub's `opened`, `synchronize`, `reopened`, `closed`). */
  pullRequestAction?: string
  /** The PR/MR comes from a fork (its runs get none of the repository's secrets). */
  fromFork?: boolean
  targetBranch?: string
  defaultBranch?: string
  repository?: string
  runUrl?: string
  tag?: string
}

/** What the CLI hands a CI to publish beyond the files it is told to write. */
export interface CiPublication {
  app: string
  result: PipelineResult
  /** gitlab-token: the review app's merge request note is written with it. */
  gitlabToken: string
  /** The run's outputs by action output name (src/core/outputs.ts). */
  outputs: Record<string, string>
  /** The job summary as Markdown, rendered once; undefined when the summary setting is off. */
  summary?: () => string
  /** How the run ended: `warning` when it warned, `info` for a dry run. */
  outcome: 'success' | 'warning' | 'info'
  env: Env
  exec: Exec
  logger: Logger
  secrets: Redactor
}

export interface CiAdapter {
  /** env-ci's id of the CI (its services/<id>.js), which CiContext.service reports. */
  service: string
  /** The CI's name for messages. */
  name: string
  /**
   * The variables the CI documents as saying it is there. env-ci's detection is asked first
   * (its service id picks the adapter); this one is asked when env-ci finds no CI.
   */
  detect(env: Env): boolean
  /** The run's commit, branch, PR/MR, refs and page, from the CI's documented variables. */
  facts(env: Env, payload: Payload): CiFacts
  /** True where the job may check out another commit than the CI names: git tells which. */
  checksOutAnyCommit?(env: Env): boolean
  /** The trust scope and fork-code reason (the per-CI part; shared rules in trust.ts). */
  trust(f: TrustFacts): Trust
  /**
   * The job's OIDC token for `audience` (keyless signing), the CI's own way; undefined when the
   * job was given none (src/ci/id-token.ts asks SIGSTORE_ID_TOKEN first).
   */
  idToken?(env: Env, audience: string, io: IdTokenIo): Promise<string | undefined>
  /** Variables holding the CI's tokens: masked wherever they would be written. */
  secretVariables: readonly string[]
  /** Where the job's repository is checked out: the code quality report's paths start there. */
  projectDir?(env: Env): string
  /** The CLI's outputs and summary where the CI shows them (annotations, meta-data). */
  publish?(p: CiPublication): Promise<void>
  /** The packaging of convox-build for this CI, from the repository root (README's table). */
  packaging: readonly string[]
}
