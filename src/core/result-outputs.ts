// The run's outputs, named as action.yml names them, as every shell sets them.
import type { PipelineResult } from './pipeline/index.js'

/** Output names of action.yml that every shell sets, to their string values. */
export type ResultOutputs = Record<
  | 'build-id'
  | 'release-id'
  | 'images'
  | 'digests'
  | 'plan'
  | 'export-path'
  | 'reused'
  | 'matrix'
  | 'review-app'
  | 'review-urls',
  string
>

/** The outputs of a run, as strings (JSON on one line for the structured ones). */
export function resultOutputs(result: PipelineResult): ResultOutputs {
  return {
    'build-id': result.buildId,
    'release-id': result.releaseId,
    images: JSON.stringify(result.images),
    digests: JSON.stringify(result.digests),
    plan: JSON.stringify(result.plan),
    'export-path': result.exportPath,
    reused: JSON.stringify(
      Object.fromEntries(result.services.filter(s => s.reusedFrom).map(s => [s.name, s.reusedFrom]))
    ),
    matrix: JSON.stringify(result.matrix),
    'review-app': result.review?.state === 'deployed' ? result.review.app : '',
    'review-urls': JSON.stringify(result.review?.urls ?? {})
  }
}
