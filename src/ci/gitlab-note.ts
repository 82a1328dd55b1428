// The merge request's one note about its review app, through GitLab's REST API v4
// (CI_API_V4_URL): created once, then edited (found by its hidden marker). The token goes in the
// PRIVATE-TOKEN header only; it needs `api` scope (CI_JOB_TOKEN cannot write notes).
import { BODY_LIMITS, exchange, type HttpAnswer } from '../core/http.js'
import type { PipelineResult } from '../core/pipeline/index.js'
import {
  REVIEW_COMMENT_PAGES,
  reviewComment,
  reviewMarker,
  type ReviewCommentTarget
} from '../core/review/comment.js'
import type { Redactor } from '../core/secrets.js'

const TIMEOUT_MS = 30_000

/** Creates or edits the note; 'created' / 'updated' / '' when there is nothing to say. */
export async function upsertReviewNote(
  result: PipelineResult,
  secrets: Redactor,
  t: ReviewCommentTarget
): Promise<'created' | 'updated' | ''> {
  const review = result.review
  const body = reviewComment(result, secrets, t.runUrl)
  const api = t.env.CI_API_V4_URL ?? ''
  const project = t.env.CI_MERGE_REQUEST_PROJECT_ID || t.env.CI_PROJECT_ID || ''
  const iid = /^\d+$/.test(review?.pullRequest ?? '') ? review!.pullRequest : ''
  if (!review || !body || !/^https?:\/\//.test(api) || !project || !iid || !t.token) return ''
  const notes = `${api.replace(/\/+$/, '')}/projects/${encodeURIComponent(project)}/merge_requests/${iid}/notes`
  const call = async (method: string, url: string, payload?: string): Promise<HttpAnswer> => {
    const headers: Record<string, string> = { 'PRIVATE-TOKEN': t.token, accept: 'application/json' }
    if (payload !== undefined) headers['content-type'] = 'application/json'
    const a = await exchange({
      method,
      url: new URL(url),
      headers,
      body: payload,
      timeoutMs: TIMEOUT_MS,
      maxBytes: BODY_LIMITS.small
    })
    if (!a.ok) throw new Error(`${method} ${new URL(url).pathname}: HTTP ${a.status}`)
    return a
  }
  const marker = reviewMarker(review.base)
  let id: number | undefined
  for (let page = 1; page <= REVIEW_COMMENT_PAGES && id === undefined; page++) {
    const data = JSON.parse((await call('GET', `${notes}?per_page=100&page=${page}`)).text()) as {
      id: number
      body?: string
    }[]
    if (!Array.isArray(data)) throw new Error('GitLab listed no notes')
    id = data.find(n => (n.body ?? '').startsWith(marker))?.id
    if (data.length < 100) break
  }
  const payload = JSON.stringify({ body })
  if (id !== undefined) {
    await call('PUT', `${notes}/${Number(id)}`, payload)
    return 'updated'
  }
  await call('POST', notes, payload)
  return 'created'
}
