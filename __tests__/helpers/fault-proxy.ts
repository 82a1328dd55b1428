// A small HTTP proxy on loopback in front of a real server (a rig registry, a rack), that lets a
// test decide per request: pass it on, cut the answer short, reset the connection, hang, or
// answer itself, before or after the upstream acted.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type FaultAction =
  | { kind: 'pass' }
  /** Forward, then send only the first `bytes` of the answer's body and close the connection. */
  | { kind: 'truncate'; bytes: number }
  /** Forward, then destroy the connection after `bytes` of the body (a reset mid-stream). */
  | { kind: 'reset'; bytes: number }
  /** Accept the request and never answer (the upstream is not called). */
  | { kind: 'hang' }
  /** Answer `status` without calling the upstream. */
  | { kind: 'answer'; status: number; body?: string; headers?: Record<string, string> }
  /** Call the upstream (it acts), then answer `status` instead of its answer. */
  | { kind: 'after'; status: number; body?: string }
  /** Call the upstream (it acts), then never answer. */
  | { kind: 'hang-after' }
  /** Close the connection without calling the upstream. */
  | { kind: 'drop' }
  /** Call the upstream, and pass its answer on `ms` later. */
  | { kind: 'delay'; ms: number }

export interface ProxiedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
}

/** Decides a request (a promise when it must look something up first, e.g. at the upstream). */
export type FaultRule = (
  req: ProxiedRequest
) => FaultAction | undefined | Promise<FaultAction | undefined>

export interface FaultProxy {
  /** host:port of the proxy. */
  host: string
  url: string
  /** Every request seen, in order, with what was done. */
  requests: (ProxiedRequest & { action: FaultAction['kind'] })[]
  /** Replaces the rule (undefined answers pass). */
  setRule(rule: FaultRule): void
  close(): Promise<void>
}

/** Starts the proxy in front of `upstream` (`host:port`, plain HTTP). */
export async function startFaultProxy(
  upstream: string,
  rule: FaultRule = () => undefined
): Promise<FaultProxy> {
  const [upstreamHost, upstreamPort] = upstream.split(':')
  let current = rule
  const requests: FaultProxy['requests'] = []
  const sockets = new Set<Socket>()
  const server = http.createServer(async (req, res) => {
    const seen: ProxiedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers
    }
    let action: FaultAction
    try {
      action = (await current(seen)) ?? { kind: 'pass' }
    } catch {
      action = { kind: 'answer', status: 502, body: 'fault proxy: the rule failed' }
    }
    requests.push({ ...seen, action: action.kind })
    if (action.kind === 'hang') {
      req.resume()
      return
    }
    if (action.kind === 'drop') {
      req.socket.destroy()
      return
    }
    if (action.kind === 'answer') {
      req.resume()
      res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers })
      res.end(action.body ?? '')
      return
    }
    const headers = { ...req.headers, host: upstream }
    const up = http.request(
      {
        host: upstreamHost,
        port: Number(upstreamPort),
        method: req.method,
        path: req.url,
        headers
      },
      upRes => {
        if (action.kind === 'hang-after') {
          upRes.resume()
          return
        }
        if (action.kind === 'delay') {
          upRes.pause()
          setTimeout(() => {
            res.writeHead(upRes.statusCode ?? 502, upRes.headers)
            upRes.pipe(res)
          }, action.ms)
          return
        }
        if (action.kind === 'after') {
          upRes.resume()
          upRes.on('end', () => {
            res.writeHead(action.status, { 'content-type': 'application/json' })
            res.end(action.body ?? '')
          })
          return
        }
        // Location headers name the upstream: keep the client on the proxy.
        const out = { ...upRes.headers }
        if (typeof out.location === 'string') {
          out.location = out.location.replace(`//${upstream}`, `//${address()}`)
        }
        res.writeHead(upRes.statusCode ?? 502, out)
        if (action.kind === 'pass') {
          upRes.pipe(res)
          return
        }
        let sent = 0
        upRes.on('data', (chunk: Buffer) => {
          if (sent >= action.bytes) return
          const part = chunk.subarray(0, action.bytes - sent)
          sent += part.length
          res.write(part)
          if (sent >= action.bytes) {
            upRes.destroy()
            if (action.kind === 'reset') res.socket?.resetAndDestroy()
            else res.socket?.destroy()
          }
        })
        upRes.on('end', () => res.end())
      }
    )
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  server.on('connection', s => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = (): string => `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    host: address(),
    url: `http://${address()}`,
    requests,
    setRule: r => {
      current = r
    },
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

export interface FaultEntry {
  method?: string
  /** The path without the query, or a RegExp on it. */
  path: string | RegExp
  action: FaultAction
  /** Matching requests it applies to (default 1)... */
  times?: number
  /** ...after letting this many through (default 0). */
  skip?: number
}

/** A rule made of entries, each for its next matching requests: `faults.add(...)` as a test goes. */
export function faultList(): { rule: FaultRule; add(entry: FaultEntry): void } {
  const entries: (FaultEntry & { times: number; skip: number })[] = []
  return {
    add: e => void entries.push({ ...e, times: e.times ?? 1, skip: e.skip ?? 0 }),
    rule: req => {
      const path = req.url.split('?')[0] ?? ''
      const e = entries.find(
        x =>
          x.times > 0 &&
          (!x.method || x.method === req.method) &&
          (typeof x.path === 'string' ? x.path === path : x.path.test(path))
      )
      if (!e) return undefined
      if (e.skip > 0) {
        e.skip--
        return undefined
      }
      e.times--
      return e.action
    }
  }
}

export interface RackFaultProxy extends FaultProxy {
  /** Faults the next matching requests (faultList). */
  fault(entry: FaultEntry): void
  /** A rack-url through the proxy. */
  rackUrl(password: string): string
}

/** A proxy in front of a rack (`host:port`) whose faults are added as a test goes. */
export async function startRackFaultProxy(upstream: string): Promise<RackFaultProxy> {
  const faults = faultList()
  const proxy = await startFaultProxy(upstream, faults.rule)
  return {
    ...proxy,
    fault: faults.add,
    rackUrl: password => `http://convox:${encodeURIComponent(password)}@${proxy.host}`
  }
}
