// Types of the build plan. The implementation (createPlan) is being written: see issue 3.

/** One Dockerfile build; services with the same context, Dockerfile, args and target share it. */
export interface PlannedBuild {
  /** Relative to the working directory, POSIX separators, `.` for the root. */
  context: string
  /** Relative to context. */
  dockerfile: string
  /** Names of the services this build is tagged for, manifest order. */
  services: string[]
  /** Names of the build args passed (declared by the Dockerfile), sorted. Never values. */
  args: string[]
  /** `development` for development builds where that stage exists, else null. */
  target: string | null
}

/** Internal view of a build: carries the arg values the engine needs. Never output as is. */
export interface BuildSpec extends PlannedBuild {
  /** Absolute context directory. */
  contextPath: string
  /** Absolute Dockerfile path. */
  dockerfilePath: string
  /** Name to value, only for declared args. May hold secrets (BUILD_AUTH). */
  argValues: Record<string, string>
}

export interface PlannedService {
  name: string
  /** `<registry>:<service>.<BUILD_ID>`, or `<app>:<service>.<BUILD_ID>` without a registry. */
  image: string
  /** Index into builds; null for image services. */
  build: number | null
  /** Build services only. */
  context?: string
  dockerfile?: string
  args?: string[]
  target?: string | null
  /** Image services only: the image copied into the repository. */
  from?: string
}

/** The output `plan` (action-interface.md): no values of build args anywhere. */
export interface PlanOutput {
  app: string
  buildId: string
  manifest: string
  gitSha: string
  description: string
  development: boolean
  services: PlannedService[]
  builds: PlannedBuild[]
}

/** What the engine executes. */
export interface Plan extends Omit<PlanOutput, 'builds'> {
  builds: BuildSpec[]
  rack: string
  /** Repository images are pushed to; '' when not pushing (images are local names). */
  registry: string
  /** Raw, uninterpolated manifest text (the rack stores it on the build). */
  manifestText: string
  /** Absolute working directory. */
  workingDirectory: string
}
