// A stand-in for GitHub's REST API on loopback, for the review app's pull-request comment: the
// issue comment routes octokit calls (list, create, update), every request recorded as sent.
import http from 'node:http'
import type { AddressInfo } from 'node:net'

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
  close(): Promise<void>
}

export async function startGitHubApi(repository: string): Promise<GitHubStandIn> {
  const requests: GitHubRequest[] = []
  const comments = new Map<number, GitHubComment[]>()
  let next = 1000
  const list = new RegExp(`^/repos/${repository}/issues/(\\d+)/comments(\\?.*)?$`)
  const one = new RegExp(`^/repos/${repository}/issues/comments/(\\d+)$`)
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (b: Buffer) => void (body += b.toString()))
    req.on('end', () => {
      const path = req.url ?? ''
      requests.push({
        method: req.method ?? '',
        path,
        authorization: req.headers.authorization ?? '',
        body
      })
      const answer = (status: number, data: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(data))
      }
      const l = list.exec(path)
      const o = one.exec(path)
      if (l && req.method === 'GET') return answer(200, comments.get(Number(l[1])) ?? [])
      if (l && req.method === 'POST') {
        const c = { id: next++, body: (JSON.parse(body) as { body: string }).body }
        comments.set(Number(l[1]), [...(comments.get(Number(l[1])) ?? []), c])
        return answer(201, c)
      }
      if (o && req.method === 'PATCH') {
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
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    comments,
    close: () => new Promise(resolve => server.close(() => resolve()))
  }
}
