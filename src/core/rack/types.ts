// Records of the rack API as it renders them (convox/convox pkg/structs: build.go, release.go,
// app.go, system.go, object.go). Times are Go RFC 3339 strings; see time.ts.
import type { BuildRecord, BuildStatus } from '../export/record.js'

export type { BuildStatus } from '../export/record.js'

/** A build as the API renders it: the record the export writes, with any status a rack sends. */
export type RackBuild = Omit<BuildRecord, 'status'> & { status: BuildStatus | string }

export interface RackRelease {
  id: string
  app: string
  build: string
  env: string
  manifest: string
  description: string
  created: string
}

/** App status is `running`, `updating` or `rollback` (pkg/common/atom.go AtomStatus). */
export interface RackApp {
  name: string
  release: string
  status: string
  generation?: string
  locked?: boolean
  router?: string
  parameters?: Record<string, string>
}

/** pkg/structs Service, the fields a review app's links need. */
export interface RackService {
  name: string
  /** The service's endpoint host; '' for a service without one. */
  domain: string
  ports?: { balancer: number; certificate?: string; container: number }[]
}

export interface RackSystem {
  name: string
  version: string
  provider: string
  domain: string
  'rack-domain'?: string
  status?: string
  region?: string
  type?: string
  count?: number
}

/** ObjectStore's answer: `{"Url": "object://<app>/<key>"}` (Go field without a json tag). */
export interface RackObject {
  Url: string
}

/** pkg/structs BuildCreateOptions (params); `url` is the source, empty for external builds. */
export interface BuildCreateParams {
  url?: string
  'build-args'?: string[]
  description?: string
  development?: boolean
  external?: boolean
  /** The manifest file name (BUILD_MANIFEST), not its text. */
  manifest?: string
  'no-cache'?: boolean
  'git-sha'?: string
}

/**
 * pkg/structs BuildUpdateOptions. `reason` is not among the rack's params (it ignores it and
 * keeps the reason in the build log); sent so a rack that learns it can store it.
 */
export interface BuildUpdateParams {
  ended?: Date
  entrypoint?: string
  logs?: string
  manifest?: string
  release?: string
  started?: Date
  status?: BuildStatus
  reason?: string
}

export interface ReleaseCreateParams {
  build?: string
  description?: string
  env?: string
}

export interface ReleasePromoteParams {
  development?: boolean
  force?: boolean
  idle?: boolean
  min?: number
  max?: number
  timeout?: number
}
