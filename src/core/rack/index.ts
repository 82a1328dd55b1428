// The rack integration: what the pipeline needs.
export {
  RackAuthError,
  RackClient,
  RackError,
  encodeParams,
  rackClientOptions,
  repositoryTarget,
  type RackClientOptions,
  type RackMode
} from './client.js'
export {
  runExternalBuild,
  type ExternalBuildContext,
  type ExternalBuildOptions,
  type ExternalBuildOutput,
  type ExternalBuildResult,
  type ExternalBuilder
} from './external-build.js'
export {
  rackRepository,
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
