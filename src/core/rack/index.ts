// The rack integration: what the pipeline needs.
export {
  CLEANUP_CALL,
  RackAuthError,
  RackClient,
  RackError,
  RackTlsError,
  rackClientOptions,
  repositoryTarget,
  type RackClientOptions
} from './client.js'
export { appBuildArch, appEnvironment, envDropCheck } from './app.js'
export {
  completeExternalBuild,
  createExternalBuild,
  externalBuildTarget,
  failBuildOnError,
  type ExternalBuildOptions,
  type ExternalBuildTarget,
  type FailingBuild
} from './external-build.js'
export {
  runImport,
  type ImageVerifier,
  type ImportedImage,
  type ImportOptions,
  type ImportResult
} from './build-import.js'
export { PromoteError, promoteRelease, type PromoteOptions } from './promote.js'
export { parseAnyTime } from './time.js'
export type * from './types.js'
