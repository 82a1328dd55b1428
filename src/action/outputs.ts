import type { PipelineResult } from '../core/pipeline.js'

/** The uploaded export, when `upload-artifact` is set. */
export interface UploadedArtifact {
  id: number
  url: string
}

/** Output names of action.yml to their string values. */
export type ActionOutputs = Record<
  | 'build-id'
  | 'release-id'
  | 'images'
  | 'digests'
  | 'plan'
  | 'export-path'
  | 'artifact-id'
  | 'artifact-url'
  | 'reused',
  string
>

/** Every output of the action, as the strings the runner stores (JSON for the structured ones). */
export function actionOutputs(result: PipelineResult, artifact?: UploadedArtifact): ActionOutputs {
  return {
    'build-id': result.buildId,
    'release-id': result.releaseId,
    images: JSON.stringify(result.images),
    digests: JSON.stringify(result.digests),
    plan: JSON.stringify(result.plan),
    'export-path': result.exportPath,
    'artifact-id': artifact ? String(artifact.id) : '',
    'artifact-url': artifact?.url ?? '',
    reused: JSON.stringify(
      Object.fromEntries(result.services.filter(s => s.reusedFrom).map(s => [s.name, s.reusedFrom]))
    )
  }
}

/** The artifact's page in the workflow run, as actions/upload-artifact reports it. */
export function artifactUrl(env: NodeJS.ProcessEnv, id: number): string {
  const server = env.GITHUB_SERVER_URL || 'https://github.com'
  return `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/artifacts/${id}`
}
