// The engine, as the pipeline uses it: prepare (logins, engine choice), build a plan, copy images.
export {
  buildPlan,
  prepareEngine,
  type BuildPlanOptions,
  type BuildPlanResult,
  type EnginePreparation,
  type EngineSettings,
  type PreparedEngine,
  type PrepareOptions
} from './build-plan.js'
export type { BuildsResult } from './scheduler.js'
export type { CopiedImage, CopyImage } from './image-copies.js'
export type { Engine, BuildResult } from './types.js'
export { registryTools, type RegistryTools } from './registry-copy.js'
export type { BuildCheck } from './progress.js'
export { checkProblem } from './run-build.js'
