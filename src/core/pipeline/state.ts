// What the stages hand each other: the Run (known before any stage), what start makes, what
// build makes, what finish makes; and the PipelineResult the shells report.
import type { KeyObject } from 'node:crypto'
import type { UserError } from '../errors.js'
import type {
  BuildCheck,
  BuildPlanResult,
  EnginePreparation,
  RegistryTools
} from '../engine/index.js'
import type { PreciseTime } from '../export/record.js'
import type { Logger } from '../log.js'
import type { Matrix, Plan, PlanOutput } from '../plan.js'
import type { PlatformChoice } from '../platform-choice.js'
import type { RackClient } from '../rack/index.js'
import type { RunEnvironment, ServiceReport } from '../run-environment.js'
import type { Settings, Stage } from '../settings.js'
import type { SigningKey } from '../signing/key.js'
import type { KeylessTrust } from '../signing/keyless-trust.js'
import type { ImageSigner } from '../signing/signer.js'

export interface PipelineResult {
  /** The stage this run was (`all` for one-process runs, dry runs and imports). */
  stage: Stage
  plan: PlanOutput
  buildId: string
  releaseId: string
  images: Record<string, string>
  digests: Record<string, string>
  services: ServiceReport[]
  /** Absolute path of the export tarball, '' when none was written. */
  exportPath: string
  /** Warnings raised on the way (also already logged as warnings), but the build checks. */
  warnings: string[]
  /** BuildKit's Dockerfile checks of this run's builds (logged as warnings at their line). */
  checks?: BuildCheck[]
  /** Build-arg names passed to some build (values are never reported). */
  buildArgNames: string[]
  /** Those of buildArgNames whose values came from the app's env. */
  appEnvArgNames?: string[]
  /** The fan-out's build legs (the `matrix` output). */
  matrix: Matrix
  /** Which platforms were built, and why (`linux/arm64 (the app's BuildArch)`). */
  platforms: string
  /** The run's trust scope and why (`scope pr-7 (untrusted): pull_request from acme/app`). */
  scope?: string
  durationMs: number
  /** The pull request's review app, when `review` is set on a pull request. */
  review?: ReviewReport
}

/** What became of a pull request's review app. */
export interface ReviewReport {
  /** The review app's name; '' when none was made (skipped). */
  app: string
  /** The app it reviews. */
  base: string
  pullRequest: string
  /** Built and promoted there; deleted (the pull request closed); skipped (a fork's, no secrets). */
  state: 'deployed' | 'deleted' | 'skipped'
  /** Each service's endpoint, as the rack tells it. */
  urls: Record<string, string>
}

/** The review app a run builds into (r.settings.app is its name). */
export interface ReviewApp {
  app: string
  base: string
  pullRequest: string
  /** The env its release gets: the base app's, with review-env over it. */
  env: Record<string, string>
}

/** What a run knows before any stage: its settings, logger, rack and the commit built. */
export interface Run {
  settings: Settings
  run: RunEnvironment
  logger: Logger
  warnings: string[]
  rack?: RackClient
  gitSha: string
  description: string
  /** No commit when BUILD_GIT_SHA is asked for: reported after the manifest's problems. */
  gitProblem?: UserError
  /**
   * Starts the logins, the engine's probe and git's index for a push target, once it is known:
   * they do not wait for the plan. Undefined where nothing is built.
   */
  prepare?: (target: Settings) => void
  prepared?: EnginePreparation
  /** The run's platforms and why (the input, the app's BuildArch, the builder's own). */
  platforms?: PlatformChoice
  /** describeScope of the run's trust scope. */
  scope: string
  /** Set when this run builds into a pull request's review app. */
  review?: ReviewApp
  /** The key images are signed with (`sign: key`), read before anything is built. */
  signing?: SigningKey
  /** The keys reuse trusts (reuseTrustedKeys), read once; undefined: reuse is not verified. */
  trustedKeys?: KeyObject[]
  /** What signs the images (the key, or Sigstore keylessly); undefined: nothing does. */
  signer?: ImageSigner
  /** Checks keyless signatures for reuse; undefined: only keys (or nothing) are trusted. */
  keylessTrust?: KeylessTrust
}

/** What start makes, and what build and finish find again from the build id. */
export interface Started {
  plan: Plan
  /** The settings of the push target: the user's registry, else the rack's. */
  target: Settings
  /** Set when the build is registered on the rack. */
  rackBuildId?: string
  /** The rack's build was failed already (by a build leg): finish names what is missing. */
  rackFailed?: boolean
  started: PreciseTime
}

export interface Built {
  result: BuildPlanResult
  tools: RegistryTools
}

export interface Finished {
  releaseId: string
  services: ServiceReport[]
  exportPath: string
  /** A review app's service endpoints. */
  reviewUrls: Record<string, string>
}
