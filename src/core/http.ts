// One HTTP exchange over node:http / node:https, for the rack and registry clients alike: the
// whole answer read up to a size its caller bounds (BODY_LIMITS), a bound on the exchange, and
// what a failure says (whether the request can have reached the server, whether it timed out,
// whether TLS refused it) for each client's retry policy to read. node:http rather than fetch:
// fetch loads undici on first use, tens of milliseconds of a run that should take less than a
// hundred.
import http from 'node:http'
import type { RequestOptions } from 'node:https'
import type { Readable } from 'node:stream'
import type { PeerCertificate } from 'node:tls'

const MiB = 1024 * 1024

/** How long an upload sent with `Expect: 100-continue` waits for the server's go-ahead. */
const CONTINUE_WAIT_MS = 1000

/**
 * The most a server may send as a whole answer, by kind: past it the read stops. Layers are
 * streamed, never read whole.
 */
export const BODY_LIMITS = {
  /** Manifests and indexes: the distribution spec's registries refuse more than 4 MiB. */
  manifest: 4 * MiB,
  /** An image's config blob: metadata like a manifest. */
  config: 4 * MiB,
  /** Tokens, registry errors and the answers to uploads. */
  small: 1 * MiB,
  /** A rack's JSON (release lists carry manifests and environments). */
  rack: 32 * MiB
} as const

/** The TLS settings of node:https, from rack-ca / rack-insecure. */
export interface TlsConfig {
  ca?: string[]
  rejectUnauthorized: boolean
  /** Fingerprints of certificates trusted as the server's own (pinned for its host). */
  pinned: Set<string>
}

export interface Exchange {
  method: string
  url: URL
  headers: Record<string, string>
  /** A body; a function makes a fresh stream (an upload). */
  body?: Buffer | string | (() => Readable)
  /** Everything, from connecting to the last byte of the answer; see `idle`. */
  timeoutMs: number
  /** timeoutMs bounds each wait (for the answer, between chunks sent or read), not the whole. */
  idle?: boolean
  /**
   * With `idle`: the bound of the whole exchange all the same (a server dripping bytes), counted
   * from the answer when the body is a stream (an upload takes what it takes).
   */
  deadlineMs?: number
  /** Bytes of the answer's body read at most (BODY_LIMITS); past it the exchange fails. */
  maxBytes: number
  /** Aborts the exchange at once (the run was cancelled). */
  signal?: AbortSignal
  /** Default: the system's CAs, verified. */
  tls?: TlsConfig
  /** Connections kept alive between exchanges (registries); default a connection of its own. */
  keepAlive?: boolean
}

/** An answer, read whole. */
export class HttpAnswer {
  constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly body: Buffer
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }

  /** A header's (first) value, or null. */
  header(name: string): string | null {
    const v = this.headers[name.toLowerCase()]
    return Array.isArray(v) ? (v[0] ?? null) : (v ?? null)
  }

  text(): string {
    return this.body.toString('utf8')
  }
}

/** Transport failures, before any reading of them (see describeFailure). */
export class ExchangeFailure extends Error {
  constructor(
    readonly error: unknown,
    /** The connection was up (for https: the handshake done), so the request may have been read. */
    readonly sent: boolean,
    readonly timedOut: boolean,
    readonly tls: boolean,
    /** The answer overran a bound of the whole (maxBytes, deadlineMs): asking again would too. */
    readonly overrun = false
  ) {
    super(error instanceof Error ? error.message : String(error))
    this.name = 'ExchangeFailure'
  }
}

/** Node's certificate verification codes (OpenSSL's X509_V_ERR_* names, and the host check). */
const TLS_CODES =
  /^(?:ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_.*|CERT_.*|ERR_SSL_.*|HOSTNAME_MISMATCH)$/

/** What an exchange needs of node:http or node:https. */
export interface Transport {
  request: typeof http.request
  get: typeof http.get
  /**
   * Node's global agent: it keeps connections alive (idle ones do not hold the process open) and
   * follows HTTPS_PROXY / NO_PROXY when NODE_USE_ENV_PROXY is set, as fetch did.
   */
  keepAlive: http.Agent
  checkServerIdentity?: typeof import('node:tls').checkServerIdentity
}

let plainTransport: Transport | undefined
let tlsTransport: Promise<Transport> | undefined

/** node:http, or node:https loaded for the first https URL: TLS costs milliseconds of a start. */
export function transportFor(url: URL): Promise<Transport> {
  if (url.protocol !== 'https:') {
    plainTransport ??= {
      request: http.request,
      get: http.get,
      keepAlive: http.globalAgent
    }
    return Promise.resolve(plainTransport)
  }
  tlsTransport ??= Promise.all([import('node:https'), import('node:tls')]).then(([https, tls]) => ({
    request: https.request as unknown as typeof http.request,
    get: https.get as unknown as typeof http.get,
    keepAlive: https.globalAgent,
    checkServerIdentity: tls.checkServerIdentity
  }))
  return tlsTransport
}

/** Sends one request and reads the whole answer; rejects with ExchangeFailure or the abort reason. */
export async function exchange(x: Exchange): Promise<HttpAnswer> {
  const transport = await transportFor(x.url)
  const cancelled = (): Error =>
    x.signal?.reason instanceof Error ? x.signal.reason : new Error('cancelled')
  if (x.signal?.aborted) throw cancelled()
  return new Promise((resolve, reject) => {
    const secure = x.url.protocol === 'https:'
    let sent = false
    let settled = false
    let upload: Readable | undefined
    let continueWait: NodeJS.Timeout | undefined
    const options: RequestOptions = {
      method: x.method,
      headers: x.headers,
      // a connection of its own unless kept alive: whether the request reached the server is then known
      agent: x.keepAlive ? transport.keepAlive : false
    }
    const verify = transport.checkServerIdentity
    if (verify && x.tls) {
      options.rejectUnauthorized = x.tls.rejectUnauthorized
      if (x.tls.ca) options.ca = x.tls.ca
      const pinned = x.tls.pinned
      options.checkServerIdentity = (host: string, cert: PeerCertificate) =>
        // a rack's own self-signed certificate names `api` (stdapi ssl.go): given in rack-ca, it is pinned
        pinned.has(cert.fingerprint256) ? undefined : verify(host, cert)
    }
    const req = transport.request(x.url, options)
    const finish = (): void => {
      settled = true
      clearTimeout(timer)
      clearTimeout(continueWait)
      clearTimeout(deadline)
      x.signal?.removeEventListener('abort', onAbort)
    }
    const fail = (e: unknown, timedOut = false): void => {
      if (settled) return
      finish()
      const code = (e as NodeJS.ErrnoException)?.code ?? ''
      const tls = secure && TLS_CODES.test(code)
      req.destroy()
      upload?.destroy()
      reject(e instanceof ExchangeFailure ? e : new ExchangeFailure(e, sent, timedOut, tls))
    }
    const onAbort = (): void => {
      if (settled) return
      finish()
      req.destroy()
      upload?.destroy()
      reject(cancelled())
    }
    const arm = (): NodeJS.Timeout =>
      setTimeout(
        () => fail(new Error(`no answer within ${seconds(x.timeoutMs)}`), true),
        x.timeoutMs
      )
    let timer = arm()
    let deadline: NodeJS.Timeout | undefined
    const armDeadline = (): void => {
      const ms = x.idle ? x.deadlineMs : undefined
      if (ms === undefined || deadline) return
      const late = new Error(`answer not complete within ${seconds(ms)}`)
      deadline = setTimeout(() => fail(new ExchangeFailure(late, sent, true, false, true)), ms)
    }
    if (typeof x.body !== 'function') armDeadline()
    const progress = x.idle
      ? (): void => {
          clearTimeout(timer)
          if (!settled) timer = arm()
        }
      : undefined
    x.signal?.addEventListener('abort', onAbort, { once: true })
    req.on('socket', socket => {
      // a kept-alive connection is up already
      if (!socket.connecting) sent = true
      else socket.once(secure ? 'secureConnect' : 'connect', () => (sent = true))
    })
    let answered = false
    // An answer before the whole upload (a 401): the rest is not sent, and the connection, its
    // request unfinished, is not used again.
    let cut = false
    // once the server answers, a write error of the rest of an upload is not the outcome
    req.on('error', e => (answered ? undefined : fail(e)))
    req.on('response', res => {
      answered = true
      clearTimeout(continueWait)
      if (typeof x.body === 'function' && !upload?.readableEnded) {
        cut = true
        upload?.unpipe(req)
        upload?.destroy()
      }
      armDeadline()
      progress?.()
      const chunks: Buffer[] = []
      let received = 0
      const tooLarge = (): void =>
        fail(
          new ExchangeFailure(
            new Error(`answer larger than ${size(x.maxBytes)}`),
            true,
            false,
            false,
            true
          )
        )
      // the answer to a HEAD announces the size of what a GET would send
      const length = x.method === 'HEAD' ? 0 : Number(res.headers['content-length'] ?? 0)
      if (length > x.maxBytes) {
        tooLarge()
        return
      }
      res.on('data', (c: Buffer) => {
        if (settled) return
        received += c.length
        if (received > x.maxBytes) {
          tooLarge()
          return
        }
        progress?.()
        chunks.push(c)
      })
      res.on('error', e => fail(e))
      res.on('aborted', () => fail(new Error('the answer was cut off')))
      res.on('end', () => {
        if (settled) return
        if (!res.complete) {
          fail(new Error('the answer was cut off'))
          return
        }
        finish()
        if (cut) req.destroy()
        resolve(new HttpAnswer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks)))
      })
    })
    const body = x.body
    if (typeof body === 'function') {
      const send = (): void => {
        if (upload || answered || settled) return
        upload = body()
        upload.on('error', e => fail(new ExchangeFailure(e, sent, false, false)))
        if (progress) upload.on('data', progress)
        upload.pipe(req)
      }
      if (x.headers.Expect === '100-continue') {
        // The server refuses (a 401) before any of the body is sent, so no reset of a connection
        // with unread bytes can overtake its answer; one that ignores Expect gets it after a while.
        req.on('continue', send)
        continueWait = setTimeout(send, CONTINUE_WAIT_MS)
        req.flushHeaders()
      } else send()
    } else {
      req.end(body)
    }
  })
}

/** A transport failure as one line, never a stack. */
export function describeFailure(f: ExchangeFailure): string {
  if (f.timedOut || f.overrun) return (f.error as Error).message
  const cause = f.error as NodeJS.ErrnoException
  const code = cause?.code ? `${cause.code}: ` : ''
  if (f.tls) return `TLS: ${cause?.message ?? String(cause)}`
  const what = f.sent ? 'connection lost' : 'cannot connect'
  return `${what} (${code}${cause?.message ?? String(cause)})`.replace(/\s+/g, ' ')
}

/**
 * Reads a stream whole (a config blob, an error's body), failing past `maxBytes` or, when given,
 * `deadlineMs` after the start.
 */
export async function readWhole(
  stream: Readable,
  maxBytes: number,
  deadlineMs?: number
): Promise<Buffer> {
  const chunks: Buffer[] = []
  let received = 0
  const late =
    deadlineMs === undefined
      ? undefined
      : setTimeout(
          () => stream.destroy(new Error(`answer not complete within ${seconds(deadlineMs)}`)),
          deadlineMs
        )
  try {
    for await (const c of stream) {
      received += (c as Buffer).length
      if (received > maxBytes) {
        stream.destroy()
        throw new Error(`answer larger than ${size(maxBytes)}`)
      }
      chunks.push(c as Buffer)
    }
  } finally {
    clearTimeout(late)
  }
  return Buffer.concat(chunks)
}

function size(bytes: number): string {
  return bytes >= MiB && bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`
}

function seconds(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`
}
