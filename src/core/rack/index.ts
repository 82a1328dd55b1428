// The rack integration: what the pipeline needs.
export {
  API_TIMEOUT_MS,
  CLEANUP_CALL,
  CLEANUP_TIMEOUT_MS,
  IMPORT_TIMEOUT_MS,
  RackAuthError,
  RackClient,
  RackError,
  RackTlsError,
  encodeParams,
  rackClientOptions,
  rackRepository,
  repositoryTarget,
  type CallOptions,
  type RackClientOptions,
  type RackMode,
  type RackOutcome
} from './client.js'
export {
  appBuildArch,
  appEnvironment,
  envDropCheck,
  parseEnvironment,
  type EnvDropCheck
} from './app.js'
export {
  completeExternalBuild,
  createExternalBuild,
  externalBuildTarget,
  failExternalBuild,
  failureReason,
  type CreatedExternalBuild,
  type ExternalBuildOptions,
  type ExternalBuildTarget
} from './external-build.js'
export {
  readTarballIndex,
  runImport,
  type ImageVerifier,
  type ImportedImage,
  type ImportOptions,
  type ImportResult
} from './import.js'
export { PromoteError, promoteRelease, type PromoteOptions } from './promote.js'
export { formatRackTime, parseAnyTime, parseRackTime } from './time.js'
export type * from './types.js'
