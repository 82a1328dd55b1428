// A small loopback HTTP proxy in front of a rack (ours or Convox's own) that injects the faults
// real networks and proxies make: an answer lost after the rack acted (502/504 after
// forwarding), a reset after forwarding, a hang before or after forwarding, a reset before.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type FaultAction =
  /** forwards, lets the rack act, then answers `status` (default 502) instead of its answer */
  | 'after'
  /** forwards, then closes the connection without an answer */
  | 'reset-after'
  /** forwards, then never answers */
  | 'hang-after'
  /** never forwards, never answers */
  | 'hang'
  /** closes the connection without forwarding */
  | 'reset'
  /** forwards, and passes the answer on `ms` later */
  | 'delay'

export interface ProxyRule {
  method?: string
  /** Exact path (without query) or a RegExp on it. */
  path: string | RegExp
  action: FaultAction
  /** Requests left to fault (default 1). */
  times?: number
  /** With 'delay'. */
  ms?: number
  /** Matching requests to let through first (default 0). */
  skip?: number
  status?: number
}

export interface ProxiedRequest {
  method: string
  path: string
  /** The fault injected, if any. */
  action?: FaultAction
  /** What the rack answered (0: not forwarded or no answer). */
  upstream: number
}

export interface FaultProxy {
  /** http://127.0.0.1:<port> */
  url: string
  host: string
  /** A rack-url through the proxy. */
  rackUrl(password: string, username?: string): string
  fault(rule: ProxyRule): void
  requests: ProxiedRequest[]
  close(): Promise<void>
}

/** Starts the proxy in front of `target` (`http://host:port`). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target)
  const rules: (ProxyRule & { times: number; skip: number })[] = []
  const requests: ProxiedRequest[] = []
  const sockets = new Set<Socket>()

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    const record: ProxiedRequest = { method: req.method ?? 'GET', path, upstream: 0 }
    requests.push(record)
    let rule = rules.find(
      r =>
        r.times > 0 &&
        (!r.method || r.method === req.method) &&
        (typeof r.path === 'string' ? r.path === path : r.path.test(path))
    )
    if (rule && rule.skip > 0) {
      rule.skip--
      rule = undefined
    }
    if (rule) {
      rule.times--
      record.action = rule.action
    }
    if (rule?.action === 'reset') {
      req.socket.destroy()
      return
    }
    if (rule?.action === 'hang') {
      req.resume()
      return
    }
    const out = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
        agent: false
      },
      up => {
        record.upstream = up.statusCode ?? 0
        if (!rule || rule.action === 'delay') {
          setTimeout(() => {
            res.writeHead(up.statusCode ?? 502, up.headers)
            up.pipe(res)
          }, rule?.ms ?? 0)
          return
        }
        // the rack has acted: read its whole answer, then lose it
        up.resume()
        up.on('end', () => {
          if (rule.action === 'reset-after') req.socket.destroy()
          else if (rule.action === 'after') {
            res.writeHead(rule.status ?? 502, { 'Content-Type': 'text/plain' })
            res.end(`injected ${rule.status ?? 502} after the rack answered ${record.upstream}\n`)
          }
          // hang-after: nothing
        })
      }
    )
    out.on('error', () => res.destroy())
    req.pipe(out)
  })
  server.on('connection', s => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: `http://${host}`,
    host,
    rackUrl: (password, username = 'convox') =>
      `http://${username}:${encodeURIComponent(password)}@${host}`,
    fault: rule => rules.push({ ...rule, times: rule.times ?? 1, skip: rule.skip ?? 0 }),
    requests,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
