// A stand-in for GitLab's REST API v4 on loopback, for the review app's merge request note: the
// merge request notes routes (list, create, update), every request recorded as sent.
import type { GitHubComment } from './github-api.js'
import { serveJson } from './loopback-api.js'

export interface GitLabRequest {
  method: string
  path: string
  /** The PRIVATE-TOKEN header. */
  token: string
  /** Every header but PRIVATE-TOKEN, to find the token anywhere else. */
  otherHeaders: string
  body: string
}

export interface GitLabStandIn {
  /** CI_API_V4_URL. */
  url: string
  requests: GitLabRequest[]
  /** The notes by merge request iid (a note has what a GitHub comment has: id, body). */
  notes: Map<number, GitHubComment[]>
  close(): Promise<void>
}

export async function startGitLabApi(projectId: string): Promise<GitLabStandIn> {
  const requests: GitLabRequest[] = []
  const notes = new Map<number, GitHubComment[]>()
  let next = 500
  const list = new RegExp(`^/api/v4/projects/${projectId}/merge_requests/(\\d+)/notes(\\?.*)?$`)
  const one = new RegExp(`^/api/v4/projects/${projectId}/merge_requests/(\\d+)/notes/(\\d+)$`)
  const server = await serveJson(({ method, path, headers, body }, answer) => {
    const { 'private-token': token, ...others } = headers
    requests.push({
      method,
      path,
      token: String(token ?? ''),
      otherHeaders: JSON.stringify(others),
      body
    })
    const l = list.exec(path)
    const o = one.exec(path)
    const text = (): string => (JSON.parse(body) as { body: string }).body
    // A note of someone else's, as a merge request has.
    const of = (iid: number): GitHubComment[] =>
      notes.get(iid) ?? notes.set(iid, [{ id: 1, body: 'LGTM' }]).get(iid)!
    if (l && method === 'GET') return answer(200, of(Number(l[1])))
    if (l && method === 'POST') {
      const n = { id: next++, body: text() }
      of(Number(l[1])).push(n)
      return answer(201, n)
    }
    if (o && method === 'PUT') {
      const n = of(Number(o[1])).find(x => x.id === Number(o[2]))
      if (n) {
        n.body = text()
        return answer(200, n)
      }
    }
    answer(404, { message: '404 Not found' })
  })
  return { url: `${server.url}/api/v4`, close: server.close, requests, notes }
}
