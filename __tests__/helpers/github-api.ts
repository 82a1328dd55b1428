// A stand-in for GitHub's REST API on loopback, for the review app's pull-request comment: the
// issue comment routes octokit calls (list, create, update), and the artifact attestations' create
// (POST /repos/{owner}/{repo}/attestations), every request recorded as sent.
import { serveJson } from './loopback-api.js'

export interface GitHubRequest {
  method: string
  path: string
  authorization: string
  body: string
}

export interface GitHubComment {
  id: number
  body: string
}

export interface GitHubStandIn {
  /** GITHUB_API_URL for the action. */
  url: string
  requests: GitHubRequest[]
  /** The comments by pull request number. */
  comments: Map<number, GitHubComment[]>
  /** The attestations' bundles, as POSTed, by the id answered. */
  attestations: Map<number, unknown>
  close(): Promise<void>
}

export async function startGitHubApi(repository: string): Promise<GitHubStandIn> {
  const requests: GitHubRequest[] = []
  const comments = new Map<number, GitHubComment[]>()
  const attestations = new Map<number, unknown>()
  let next = 1000
  const list = new RegExp(`^/repos/${repository}/issues/(\\d+)/comments(\\?.*)?$`)
  const one = new RegExp(`^/repos/${repository}/issues/comments/(\\d+)$`)
  const server = await serveJson(({ method, path, headers, body }, answer) => {
    requests.push({ method, path, authorization: headers.authorization ?? '', body })
    const l = list.exec(path)
    const o = one.exec(path)
    if (path === `/repos/${repository}/attestations` && method === 'POST') {
      const id = next++
      attestations.set(id, (JSON.parse(body) as { bundle: unknown }).bundle)
      return answer(201, { id })
    }
    if (l && method === 'GET') return answer(200, comments.get(Number(l[1])) ?? [])
    if (l && method === 'POST') {
      const c = { id: next++, body: (JSON.parse(body) as { body: string }).body }
      comments.set(Number(l[1]), [...(comments.get(Number(l[1])) ?? []), c])
      return answer(201, c)
    }
    if (o && method === 'PATCH') {
      for (const cs of comments.values()) {
        const c = cs.find(x => x.id === Number(o[1]))
        if (c) {
          c.body = (JSON.parse(body) as { body: string }).body
          return answer(200, c)
        }
      }
    }
    answer(404, { message: 'Not Found' })
  })
  return { ...server, requests, comments, attestations }
}
