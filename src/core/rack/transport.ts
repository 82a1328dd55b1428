// One HTTP exchange with a rack over node:http / node:https, with the bounds and the reading of
// failures the client's retry policy needs: whether the request can have reached the rack at all,
// whether it timed out, and what the rack's answer means (Convox answers 500 for permanent errors
// and 403 also while an app updates: pkg/api/validation.go, stdapi router.go writeErrorResponse).
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { Readable } from 'node:stream'
import { checkServerIdentity, type PeerCertificate } from 'node:tls'
import { UserError } from '../errors.js'

/**
 * What a failed exchange tells about the rack's state:
 * - `unreached`: nothing reached the rack (refused connection, DNS): any call may be sent again;
 * - `ambiguous`: sent, outcome unknown (timeout, reset, 502/503/504, a 500 that does not say it
 *   refused): a read may be sent again, a create only after looking up what exists;
 * - `refused`: the rack answered that it did not do it (4xx, a 500 naming the reason): final;
 * - `later`: refused for now (409, 429): may succeed when sent again.
 */
export type RackOutcome = 'unreached' | 'ambiguous' | 'refused' | 'later'

/** A rack call that failed, as one line: `rack <host>: <METHOD> <path>: <status> <message>`. */
export class RackError extends Error {
  constructor(
    message: string,
    /** HTTP status, 0 when there was no answer. */
    readonly status: number,
    /** The rack's own message (`{"error": ...}` or the body), or the transport failure. */
    readonly rackMessage: string,
    readonly outcome: RackOutcome,
    /** No answer within the call's bound. */
    readonly timedOut = false
  ) {
    super(message)
    this.name = 'RackError'
  }

  /** 403 `app is currently updating` (ReleasePromoteValidate): wait for the app, then again. */
  get appUpdating(): boolean {
    return this.status === 403 && /currently updating|is updating/i.test(this.rackMessage)
  }
}

/** 401: the credentials are wrong; a mistake the user fixes. */
export class RackAuthError extends UserError {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message)
    this.name = 'RackAuthError'
  }
}

/** The rack's certificate is not trusted: fixed with rack-ca or rack-insecure. Never retried. */
export class RackTlsError extends UserError {
  constructor(message: string) {
    super(message)
    this.name = 'RackTlsError'
  }
}

/**
 * Bodies of 500s that say the rack refused the call (nothing was done): Kubernetes NotFound
 * (`builds.convox.com "bx" not found`), promote's `required env: X`, validation and parsing
 * errors. Any other 500 may come after the rack acted.
 */
const REFUSED_500 =
  /\bnot found\b|required env|\binvalid\b|\bcan ?not\b|\bmust\b|\bparsing\b|strconv\.|\bno such\b|\bunsupported\b|\bnot allowed\b|\bforbidden\b|\bunauthorized\b/i

/** How a rack answer with status >= 400 reads. */
export function answerOutcome(status: number, message: string): RackOutcome {
  if (status === 409 || status === 429) return 'later'
  if (status < 500) return 'refused'
  if (status === 500) return REFUSED_500.test(message) ? 'refused' : 'ambiguous'
  if (status === 501) return 'refused'
  return 'ambiguous'
}

export interface TlsOptions {
  /** Path of a PEM bundle (rack-ca): its CAs, or the rack's own certificate, are trusted. */
  ca?: string
  /** Do not verify the certificate at all (rack-insecure). */
  insecure?: boolean
}

/** The TLS settings of node:https, from rack-ca / rack-insecure. */
export interface TlsConfig {
  ca?: string[]
  rejectUnauthorized: boolean
  /** Fingerprints of the certificates in rack-ca: one of them as the rack's own is pinned. */
  pinned: Set<string>
}

export function tlsConfig(options: TlsOptions): TlsConfig {
  if (options.insecure) return { rejectUnauthorized: false, pinned: new Set() }
  if (!options.ca) return { rejectUnauthorized: true, pinned: new Set() }
  let text: string
  try {
    text = readFileSync(options.ca, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message
    throw new UserError({ input: 'rack-ca', message: `cannot read ${options.ca} (${code})` })
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  const pinned = new Set<string>()
  for (const pem of blocks) {
    try {
      pinned.add(new X509Certificate(pem).fingerprint256)
    } catch {
      throw new UserError({
        input: 'rack-ca',
        message: `${options.ca} holds a certificate that does not parse`
      })
    }
  }
  if (blocks.length === 0) {
    throw new UserError({ input: 'rack-ca', message: `${options.ca} holds no PEM certificate` })
  }
  return { ca: blocks, rejectUnauthorized: true, pinned }
}

export interface Exchange {
  method: string
  url: URL
  headers: Record<string, string>
  /** A body; a function makes a fresh stream (an upload). */
  body?: Buffer | string | (() => Readable)
  /** Everything, from connecting to the last byte of the answer. */
  timeoutMs: number
  /** Aborts the exchange at once (the run was cancelled). */
  signal?: AbortSignal
  tls: TlsConfig
}

export interface RackResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/** Transport failures, before any reading of them (see describeFailure). */
export class ExchangeFailure extends Error {
  constructor(
    readonly error: unknown,
    /** The connection was up (for https: the handshake done), so the request may have been read. */
    readonly sent: boolean,
    readonly timedOut: boolean,
    readonly tls: boolean
  ) {
    super(error instanceof Error ? error.message : String(error))
    this.name = 'ExchangeFailure'
  }
}

/** Node's certificate verification codes (OpenSSL's X509_V_ERR_* names, and the host check). */
const TLS_CODES =
  /^(?:ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_.*|CERT_.*|ERR_SSL_.*|HOSTNAME_MISMATCH)$/

/** Sends one request and reads the whole answer; rejects with ExchangeFailure or the abort reason. */
export function exchange(x: Exchange): Promise<RackResponse> {
  return new Promise((resolve, reject) => {
    const secure = x.url.protocol === 'https:'
    let sent = false
    let settled = false
    let upload: Readable | undefined
    const options: https.RequestOptions = {
      method: x.method,
      headers: x.headers,
      // a connection of its own: whether the request reached the rack is then known
      agent: false
    }
    if (secure) {
      options.rejectUnauthorized = x.tls.rejectUnauthorized
      if (x.tls.ca) options.ca = x.tls.ca
      const pinned = x.tls.pinned
      options.checkServerIdentity = (host: string, cert: PeerCertificate) =>
        // a rack's own self-signed certificate names `api` (stdapi ssl.go): given in rack-ca, it is pinned
        pinned.has(cert.fingerprint256) ? undefined : checkServerIdentity(host, cert)
    }
    const req = (secure ? https : http).request(x.url, options)
    const finish = (): void => {
      settled = true
      clearTimeout(timer)
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
      reject(x.signal?.reason instanceof Error ? x.signal.reason : new Error('cancelled'))
    }
    const timer = setTimeout(() => fail(new Error('no answer'), true), x.timeoutMs)
    if (x.signal?.aborted) {
      onAbort()
      return
    }
    x.signal?.addEventListener('abort', onAbort, { once: true })
    req.on('socket', socket => {
      socket.once(secure ? 'secureConnect' : 'connect', () => (sent = true))
    })
    let answered = false
    // once the rack answers, a write error of the rest of an upload is not the outcome
    req.on('error', e => (answered ? undefined : fail(e)))
    req.on('response', res => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', e => fail(e))
      res.on('aborted', () => fail(new Error('the answer was cut off')))
      res.on('end', () => {
        if (settled) return
        if (!res.complete) {
          fail(new Error('the answer was cut off'))
          return
        }
        finish()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
      })
    })
    const body = x.body
    if (typeof body === 'function') {
      upload = body()
      upload.on('error', e => fail(new ExchangeFailure(e, sent, false, false)))
      // an answer before the whole upload (a 401): stop sending
      req.on('response', () => upload?.unpipe(req))
      upload.pipe(req)
    } else {
      req.end(body)
    }
  })
}

/** A transport failure as one line, never a stack. */
export function describeFailure(f: ExchangeFailure, timeoutMs: number): string {
  if (f.timedOut) return `no answer within ${seconds(timeoutMs)}`
  const cause = f.error as NodeJS.ErrnoException
  const code = cause?.code ? `${cause.code}: ` : ''
  if (f.tls) return `TLS: ${cause?.message ?? String(cause)}`
  const what = f.sent ? 'connection lost' : 'cannot connect'
  return `${what} (${code}${cause?.message ?? String(cause)})`.replace(/\s+/g, ' ')
}

function seconds(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`
}
