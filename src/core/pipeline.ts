// The one entry point both shells call. Being integrated: planning (issue 3), builds (4),
// export (5) and the rack (6) plug in here.
import type { Exec } from './exec.js'
import type { Logger } from './log.js'
import type { PlanOutput } from './plan.js'
import type { Settings } from './settings.js'

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
}

export interface PipelineResult {
  plan: PlanOutput
  buildId: string
  releaseId: string
  images: Record<string, string>
  digests: Record<string, string>
  services: ServiceReport[]
  /** Absolute path of the export tarball, '' when none was written. */
  exportPath: string
  /** Warnings raised on the way (also already logged as warnings). */
  warnings: string[]
  /** Build-arg names passed to some build (values are never reported). */
  buildArgNames: string[]
  durationMs: number
}

export async function runPipeline(
  settings: Settings,
  run: RunEnvironment
): Promise<PipelineResult> {
  void settings
  void run
  throw new Error('runPipeline: not integrated yet')
}
