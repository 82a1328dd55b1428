import { githubRunUrl } from '../ci/github.js'
import { resultOutputs, type ResultOutputs } from '../core/result-outputs.js'
import type { PipelineResult } from '../core/pipeline/index.js'
import type { SummaryArtifact } from '../core/summary.js'

/** The uploaded export, when `upload-artifact` is set: GitHub's artifact ids are numbers. */
export type UploadedArtifact = SummaryArtifact & { id: number }

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
  return `${githubRunUrl(env)}/artifacts/${id}`
}
