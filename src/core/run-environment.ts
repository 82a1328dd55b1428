// What the engine and the pipeline share about one run: where it runs, and what it reports per
// service. A module of its own so that the engine does not import the pipeline.
import type { CiContext } from './commit.js'
import type { Exec } from './exec.js'
import type { Logger } from './log.js'
import type { Redactor } from './secrets.js'
import type { Statement } from './signing/provenance.js'

/** What the shell knows about where it runs. */
export interface RunEnvironment {
  env: NodeJS.ProcessEnv
  logger: Logger
  exec: Exec
  /** True inside a GitHub Actions job (cache `auto` picks gha there). */
  github: boolean
  /** Directory for this run's temporary files (private docker config, metadata files). */
  tempDir: string
  /** Directory BuildKit's `local` cache is read from and written to (the action restores and saves it). */
  localCacheDir: string
  /** The run's secrets: every value the logger masks, shared by every writer. */
  secrets: Redactor
  /** Aborted when the run is cancelled (SIGINT/SIGTERM): every process and request stops. */
  signal?: AbortSignal
  /**
   * Where the build runs, as the shell reads it (src/ci): the commit built, its branch for
   * cache scopes. A promise: the pipeline starts other work while the shell reads it.
   */
  ci?: Promise<CiContext>
  /**
   * The CI's OIDC identity token for `audience` (GitHub's id-token, GitLab's id_tokens, Buildkite's
   * and CircleCI's OIDC), from the CI's adapter; undefined where the CI gives none. A secret.
   */
  idToken?: (audience: string) => Promise<string | undefined>
  /**
   * Stores an image's provenance as the CI's own attestation of its subjects (GitHub's artifact
   * attestations, `github-attestation`), signed and kept by the CI; returns its id. Undefined
   * where the CI has none or it was not asked for.
   */
  attest?: (statement: Statement) => Promise<string | undefined>
}

/** Per-service result, for outputs and the job summary. */
export interface ServiceReport {
  name: string
  image: string
  /** Pushed manifest digest `sha256:...`; '' when not pushed. */
  digest: string
  /** Index of the build in plan.builds; null for image services. */
  build: number | null
  /** Other services that share this service's build. */
  sharedWith: string[]
  cachedSteps: number
  totalSteps: number
  durationMs: number
  /** The image this service's image was reused from (same content key), when it was not built. */
  reusedFrom?: string
  /** The reuse content key of its build, when it has one (built or reused). */
  reuseKey?: string
}
