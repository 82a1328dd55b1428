// The CIs convox-build knows, in one table: adding a CI is one adapter (src/ci/<ci>.ts, see
// adapter.ts), its packaging, and one row here (README's "Adding a CI").
import type { EnvCiResult } from 'env-ci'
import type { CiAdapter, Env } from './adapter.js'
import { azurePipelines } from './azure-pipelines.js'
import { bitbucket } from './bitbucket.js'
import { buildkite } from './buildkite.js'
import { circleci } from './circleci.js'
import { github } from './github.js'
import { ID_TOKEN_VARIABLES } from './id-token.js'
import { gitlab } from './gitlab.js'
import { jenkins } from './jenkins.js'
import { envCiAdapter } from './other.js'

/** In the order their own detection is asked when env-ci finds no CI. */
export const ADAPTERS: readonly CiAdapter[] = [
  github,
  gitlab,
  buildkite,
  circleci,
  bitbucket,
  jenkins,
  azurePipelines
]

/** The adapter of a context's service; undefined for CIs only env-ci knows, and for none. */
export const adapterNamed = (service: string): CiAdapter | undefined =>
  ADAPTERS.find(a => a.service === service)

/** The adapter of the CI env-ci detected, else of the first that detects itself, else env-ci's. */
export function adapterOf(detected: EnvCiResult, env: Env): CiAdapter {
  const own = detected.service ? adapterNamed(detected.service) : ADAPTERS.find(a => a.detect(env))
  return own ?? envCiAdapter(detected)
}

/** Every CI's token variables: masked whichever CI runs (detection comes later). */
export const CI_SECRET_VARIABLES: readonly string[] = [
  ...ADAPTERS.flatMap(a => a.secretVariables),
  ...ID_TOKEN_VARIABLES
]

/** Where the job's repository is checked out, as the CI that says so says; '' elsewhere. */
export function projectDirOf(env: Env): string {
  for (const a of ADAPTERS) {
    const dir = a.projectDir?.(env)
    if (dir) return dir
  }
  return ''
}
