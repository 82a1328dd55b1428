// The pull request's one comment about its review app, through GitHub's REST API: created once,
// then edited (found by its hidden marker). Needs `pull-requests: write` for the token.
import { getOctokit } from '@actions/github'
import type { PipelineResult } from '../core/pipeline/index.js'
import {
  REVIEW_COMMENT_PAGES,
  reviewComment,
  reviewMarker,
  type ReviewCommentTarget
} from '../core/review/comment.js'
import type { Redactor } from '../core/secrets.js'

/** Creates or edits the comment; 'created' / 'updated' / '' when there is nothing to say. */
export async function upsertReviewComment(
  result: PipelineResult,
  secrets: Redactor,
  t: ReviewCommentTarget
): Promise<'created' | 'updated' | ''> {
  const review = result.review
  const body = reviewComment(result, secrets, t.runUrl)
  const [owner, repo] = (t.env.GITHUB_REPOSITORY ?? '').split('/')
  if (!review || !body || !owner || !repo || !t.token) return ''
  const octokit = getOctokit(t.token, {
    baseUrl: t.env.GITHUB_API_URL || 'https://api.github.com',
    request: { retries: 0 }
  })
  const issue = { owner, repo, issue_number: Number(review.pullRequest) }
  const marker = reviewMarker(review.base)
  let id: number | undefined
  for (let page = 1; page <= REVIEW_COMMENT_PAGES && id === undefined; page++) {
    const { data } = await octokit.rest.issues.listComments({ ...issue, per_page: 100, page })
    id = data.find(c => (c.body ?? '').startsWith(marker))?.id
    if (data.length < 100) break
  }
  if (id !== undefined) {
    await octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body })
    return 'updated'
  }
  await octokit.rest.issues.createComment({ ...issue, body })
  return 'created'
}
