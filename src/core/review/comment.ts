// The pull request's one comment about its review app, as Markdown: found again by its hidden
// marker, so each run edits it instead of adding another. Everything from outside (names, ids,
// images, links) is escaped as the job summary escapes it, and redacted first.
import type { PipelineResult } from '../pipeline/index.js'
import type { Redactor } from '../secrets.js'
import { codeSpan, markdownText } from '../summary.js'

/** Where a shell publishes the comment: its API's token, the CI's environment, the run's page. */
export interface ReviewCommentTarget {
  token: string
  env: NodeJS.ProcessEnv
  runUrl: string
}

/** Comments read while looking for ours (100 a page). */
export const REVIEW_COMMENT_PAGES = 10

/** The hidden first line of the comment about `app`'s review app (an app name: [a-z0-9-]). */
export function reviewMarker(app: string): string {
  return `<!-- convox-build:review:${app.replace(/[^a-z0-9-]/g, '')} -->`
}

/** The comment's Markdown for a run with a review report; '' for one without. */
export function reviewComment(result: PipelineResult, secrets: Redactor, runUrl = ''): string {
  const review = result.review
  if (!review || review.state === 'skipped') return ''
  const code = (s: string, inTable = false): string => codeSpan(secrets.redact(s), inTable)
  const text = (s: string): string => markdownText(secrets.redact(s))
  const lines = [reviewMarker(review.base), `### Review app ${code(review.app)}`, '']
  if (review.state === 'deleted') {
    lines.push(
      `Pull request ${text(`#${review.pullRequest}`)} was closed: the review app ${code(review.app)} is deleted.`
    )
  } else {
    lines.push(
      `Build ${code(result.buildId)}, release ${code(result.releaseId)}, promoted in ${code(review.app)}.`,
      '',
      '| service | image | digest | link |',
      '|---|---|---|---|'
    )
    for (const [name, image] of Object.entries(result.images)) {
      const url = review.urls[name]
      const link = url && /^https:\/\/[^\s()<>]+$/.test(url) ? `<${secrets.redact(url)}>` : ''
      lines.push(
        `| ${code(name, true)} | ${code(image, true)} | ${code(result.digests[name] ?? '', true)} | ${link} |`
      )
    }
  }
  if (/^https:\/\/[^\s()<>]+$/.test(runUrl))
    lines.push('', `[The run](<${secrets.redact(runUrl)}>)`)
  return `${lines.join('\n')}\n`
}
