import { resultOutputs, type ResultOutputs } from '../core/outputs.js'
import type { PipelineResult } from '../core/pipeline.js'

/** The uploaded export, when `upload-artifact` is set. */
export interface UploadedArtifact {
  id: number
  url: string
}

/** Output names of action.yml to their string values. */
export type ActionOutputs = ResultOutputs & Record<'artifact-id' | 'artifact-url', string>

/** Every output of the action, as the strings the runner stores (JSON for the structured ones). */
export function actionOutputs(result: PipelineResult, artifact?: UploadedArtifact): ActionOutputs {
  return {
    ...resultOutputs(result),
    'artifact-id': artifact ? String(artifact.id) : '',
    'artifact-url': artifact?.url ?? ''
  }
}

/** The artifact's page in the workflow run, as actions/upload-artifact reports it. */
export function artifactUrl(env: NodeJS.ProcessEnv, id: number): string {
  const server = env.GITHUB_SERVER_URL || 'https://github.com'
  return `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/artifacts/${id}`
}
