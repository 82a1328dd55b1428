// Every other CI, and none: env-ci's answer (semantic-release/env-ci, one file per CI service)
// where convox-build has no adapter of its own; outside any CI, what env-ci reads of git.
import envCi, { type EnvCiResult } from 'env-ci'
import type { CiAdapter, Env, Payload } from './adapter.js'
import { ciRunTrust, localTrust } from './trust.js'

/** env-ci's answer; a GitHub event file that cannot be read makes it throw, so it is left out. */
export function runEnvCi(env: Env, cwd: string, payload: Payload): EnvCiResult {
  const clean = { ...env }
  if (clean.GITHUB_EVENT_PATH && payload === null) delete clean.GITHUB_EVENT_PATH
  try {
    return envCi({ env: clean, cwd })
  } catch {
    return { isCi: Boolean(env.CI) }
  }
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v))

/** The adapter of a CI only env-ci knows (or of no CI: `service` ''), from env-ci's answer. */
export function envCiAdapter(detected: EnvCiResult): CiAdapter {
  const service = detected.service ?? ''
  const isPr = Boolean(detected.isPr)
  return {
    service,
    name: detected.name ?? '',
    // Already detected: env-ci found this CI, or none.
    detect: () => true,
    facts: () => ({
      // Outside a CI env-ci's commit is git's HEAD, which the context reads itself.
      commit: service ? text(detected.commit) : '',
      isPullRequest: isPr,
      branch: text(isPr ? detected.prBranch : detected.branch),
      pullRequest: text(detected.pr),
      targetBranch: isPr ? text(detected.branch) : '',
      repository: text(detected.slug),
      tag: text(detected.tag),
      runUrl: detected.buildUrl?.includes('undefined') ? '' : text(detected.buildUrl)
    }),
    trust: service ? ciRunTrust : localTrust,
    secretVariables: [],
    packaging: []
  }
}
