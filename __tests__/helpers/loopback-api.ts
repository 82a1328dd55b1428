// The server under the stand-in REST APIs (GitHub's, GitLab's): JSON on loopback, each request
// read whole before its route answers it.
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ApiRequest {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  body: string
}

export type Answer = (status: number, data: unknown) => void

export interface LoopbackApi {
  /** http://127.0.0.1:<port> */
  url: string
  close(): Promise<void>
}

export async function serveJson(
  route: (r: ApiRequest, answer: Answer) => void
): Promise<LoopbackApi> {
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (b: Buffer) => void (body += b.toString()))
    req.on('end', () =>
      route(
        { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body },
        (status, data) => {
          res.writeHead(status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(data))
        }
      )
    )
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise(resolve => server.close(() => resolve()))
  }
}
