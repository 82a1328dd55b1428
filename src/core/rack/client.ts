// A client of the Convox rack API, following the CLI's own client: convox/convox sdk/sdk.go
// (headers, Basic auth, Console `Rack` header), sdk/methods.go (paths and params) and
// convox/stdsdk client.go / options.go (form encoding, raw bodies, error bodies).
//
// Every call is bounded (API_TIMEOUT_MS; an import upload IMPORT_TIMEOUT_MS) and takes the run's
// signal. One retry policy (p-retry): a call is sent again only when that cannot do anything twice
// (nothing reached the rack, a read, or a 409/429 refusal); a create whose answer was lost is
// looked up on the rack first (BuildList, ReleaseList, AppGet) and sent again only when the rack
// holds nothing of it. A call that got no answer within its bound is never sent again.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { AbortError } from 'p-retry'
import { RETRIES, withRetries } from '../retry.js'
import { UserError } from '../errors.js'
import type { Logger } from '../log.js'
import { Redactor } from '../secrets.js'
import { parseRepositoryUrl, type KnownLogin, type RepositoryUrl } from '../credential-url.js'
import { formatRackTime, parseAnyTime } from './time.js'
import {
  ExchangeFailure,
  type HttpAnswer,
  BODY_LIMITS,
  describeFailure,
  exchange,
  type TlsConfig
} from '../http.js'
import { RackAuthError, RackError, RackTlsError, answerOutcome } from './rack-errors.js'
import { tlsConfig } from './tls.js'
import type {
  BuildCreateParams,
  BuildUpdateParams,
  RackApp,
  RackService,
  RackBuild,
  RackObject,
  RackRelease,
  RackSystem,
  ReleaseCreateParams,
  ReleasePromoteParams
} from './types.js'

export { RackAuthError, RackError, RackTlsError } from './rack-errors.js'

export const DEFAULT_CONVOX_HOST = 'console.convox.com'
/** Every API call: from connecting to the last byte of the answer. */
const API_TIMEOUT_MS = 30_000
/** An import: the upload, and the rack pushing every image before it answers. */
const IMPORT_TIMEOUT_MS = 60 * 60_000
/** Each of the last writes after a failure or a cancel (marking a build failed). */
const CLEANUP_TIMEOUT_MS = 10_000
/** How far apart the rack's clock and ours may be read (Date has whole seconds). */
const CLOCK_SLACK_MS = 2000
/** Builds / releases looked at when looking for one this run made. */
const LOOKUP_LIMIT = 20

export interface RackClientOptions {
  /** `https://convox:<password>@api.<domain>` (the `rack-url` input / RACK_URL). */
  rackUrl?: string
  /** Console mode: the Console host (default console.convox.com; `http://` allowed for tests). */
  convoxHost?: string
  /** Console mode: the deploy key. */
  convoxPassword?: string
  /** Console mode: `<org>/<rack>`, sent in the `Rack` header. */
  rack?: string
  /** rack-ca: path of a PEM bundle of the CAs that sign the rack's certificate (or the certificate). */
  ca?: string
  /** rack-insecure: do not verify the rack's certificate (warns once per client). */
  insecure?: boolean
  /** The run's secrets: every credential is added before anything could print it. */
  secrets?: Redactor
  /** Retry notices go to info, request traces to debug, rack-insecure to warning. */
  logger?: Pick<Logger, 'info' | 'debug' | 'warning'>
  /** The run's signal: every call stops when it is aborted (SIGINT/SIGTERM). */
  signal?: AbortSignal
  /** Sends after the first, for what may be sent again (default 4). */
  retries?: number
  /** First backoff delay; doubles each retry, randomized (default 500 ms, at most maxRetryDelayMs). */
  retryDelayMs?: number
  maxRetryDelayMs?: number
  /** Bound of each API call (default API_TIMEOUT_MS). */
  timeoutMs?: number
  /** Bound of an import (default IMPORT_TIMEOUT_MS). */
  importTimeoutMs?: number
  userAgent?: string
}

/** Per call: the last writes after a cancel run with a bound of their own, not the run's signal. */
export interface CallOptions {
  /** null: not bound to the run's signal. */
  signal?: AbortSignal | null
  timeoutMs?: number
  retries?: number
}

/** The last writes after a failure or a cancel. */
export const CLEANUP_CALL: CallOptions = {
  signal: null,
  timeoutMs: CLEANUP_TIMEOUT_MS,
  retries: 1
}

export type RackMode = 'direct' | 'console'

type ParamValue = string | number | boolean | Date | string[] | undefined

interface RequestOptions<T> extends CallOptions {
  params?: object
  query?: Record<string, ParamValue>
  /** A raw body; a function makes a fresh stream for each send (an upload). */
  body?: Buffer | string | (() => ReturnType<typeof createReadStream>)
  headers?: Record<string, string>
  /** Safe to send twice (GET, PUT, ObjectStore); default: every method but POST. */
  idempotent?: boolean
  /** A create whose answer was lost: what the rack holds of it (undefined: nothing). */
  recover?: () => Promise<T | undefined>
  /** After recover found nothing, send again (default true; an upload: false). */
  resend?: boolean
  parse: (res: HttpAnswer) => T
}

/** Where the rack client talks to, from the settings; undefined when no rack is configured. */
export function rackClientOptions(settings: {
  rackUrl: string
  convoxHost: string
  convoxPassword: string
  rack: string
  rackCa: string
  rackInsecure: boolean
}): RackClientOptions | undefined {
  const tls = { ca: settings.rackCa || undefined, insecure: settings.rackInsecure }
  if (settings.rackUrl) return { rackUrl: settings.rackUrl, ...tls }
  if (settings.convoxPassword) {
    return {
      convoxHost: settings.convoxHost,
      convoxPassword: settings.convoxPassword,
      rack: settings.rack,
      ...tls
    }
  }
  return undefined
}

export class RackClient {
  readonly mode: RackMode
  /** The API base without credentials. */
  readonly endpoint: URL
  /** host[:port], used in messages. */
  readonly host: string
  /** Console mode's `<org>/<rack>`; '' in direct mode. */
  readonly rack: string
  private readonly username: string
  private readonly password: string
  private readonly secrets: Redactor
  private readonly options: RackClientOptions
  private readonly tls: TlsConfig
  /** The rack's clock minus ours, from the Date of its answers. */
  private clockOffsetMs = 0

  constructor(options: RackClientOptions) {
    this.options = options
    this.secrets = options.secrets ?? new Redactor()
    if (options.rackUrl) {
      this.mode = 'direct'
      // As a rack writes its RACK_URL, the password may be unescaped (`/`, `#`, `?`, `@`, ...).
      let u: URL
      let login: RepositoryUrl
      try {
        login = parseRepositoryUrl(options.rackUrl)
        u = new URL(login.scheme + login.repository)
      } catch {
        // never echo the value: it holds the password
        throw new UserError({
          input: 'rack-url',
          message: 'is not a URL like https://convox:<password>@api.<domain>'
        })
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') {
        throw new UserError({ input: 'rack-url', message: 'must start with https://' })
      }
      this.username = login.username
      this.password = login.password
      this.rack = ''
      this.addSecret(login.rawPassword)
      this.endpoint = u
    } else if (options.convoxPassword) {
      this.mode = 'console'
      const rack = (options.rack ?? '').trim()
      if (!/^[^/\s]+\/[^/\s]+$/.test(rack)) {
        throw new UserError({
          input: 'rack',
          message: `Console mode (convox-password) needs the rack as <org>/<rack>, got "${rack}"`
        })
      }
      const host = (options.convoxHost ?? '').trim() || DEFAULT_CONVOX_HOST
      let u: URL
      try {
        u = new URL(/^[a-z]+:\/\//i.test(host) ? host : `https://${host}`)
      } catch {
        throw new UserError({ input: 'convox-host', message: `"${host}" is not a host name` })
      }
      u.username = ''
      u.password = ''
      this.endpoint = u
      // pkg/rack/console.go consoleClient: https://convox:<key>@<host>, Rack header = <org>/<rack>
      this.username = 'convox'
      this.password = options.convoxPassword
      this.rack = rack
    } else {
      throw new UserError({
        input: 'rack-url',
        message: 'no rack credentials: set rack-url (or RACK_URL), or convox-password and rack'
      })
    }
    this.secrets.addLogin(this.username, this.password)
    this.endpoint.pathname = this.endpoint.pathname.replace(/\/+$/, '')
    this.endpoint.search = ''
    this.endpoint.hash = ''
    this.host = this.endpoint.host
    this.tls = tlsConfig({ ca: options.ca, insecure: options.insecure })
    if (options.insecure && this.endpoint.protocol === 'https:') {
      options.logger?.warning(
        `rack-insecure: the certificate of ${this.host} is not verified; anyone on the way can read the rack password (prefer rack-ca)`
      )
    }
  }

  /** The rack password (direct) or deploy key (Console): for pushing through the rack's /v2/ proxy. */
  get credentials(): { username: string; password: string } {
    return { username: this.username, password: this.password }
  }

  /** The run's signal (waits between calls stop on it too). */
  get signal(): AbortSignal | undefined {
    return this.options.signal
  }

  get logger(): Pick<Logger, 'info' | 'debug' | 'warning'> {
    return (
      this.options.logger ?? {
        info: () => undefined,
        debug: () => undefined,
        warning: () => undefined
      }
    )
  }

  /** Masks a secret (in every encoding) and hides it from every later error message. */
  addSecret(secret: string): void {
    this.secrets.add(secret)
  }

  /** Replaces every known secret in text with `***`. */
  scrub(text: string): string {
    return this.secrets.redact(text)
  }

  /** The rack's time for a time of ours (its records' `started` are in its clock). */
  rackTime(localMs: number): number {
    return localMs + this.clockOffsetMs
  }

  // --- typed calls (sdk/methods.go) ---

  systemGet(call: CallOptions = {}): Promise<RackSystem> {
    return this.json('GET', '/system', call)
  }

  appGet(app: string, call: CallOptions = {}): Promise<RackApp> {
    return this.json('GET', `/apps/${seg(app)}`, call)
  }

  /** AppCreate; a lost answer counts as done when AppGet finds the app. */
  appCreate(name: string, call: CallOptions = {}): Promise<RackApp> {
    return this.json('POST', '/apps', {
      ...call,
      params: { name },
      recover: () => this.appGet(name).catch(() => undefined)
    })
  }

  /** The app, or undefined when the rack has none by that name (404). */
  async appFind(name: string, call: CallOptions = {}): Promise<RackApp | undefined> {
    try {
      return await this.appGet(name, call)
    } catch (e) {
      if (e instanceof RackError && e.status === 404) return undefined
      throw e
    }
  }

  /** AppDelete: the rack answers `ok`; an app gone already (404, a retry's) counts as deleted. */
  async appDelete(name: string, call: CallOptions = {}): Promise<void> {
    try {
      await this.call<true>('DELETE', `/apps/${seg(name)}`, { ...call, parse: () => true })
    } catch (e) {
      if (!(e instanceof RackError && e.status === 404)) throw e
    }
  }

  /** ServiceList: the services of the app's release, each with its endpoint (`domain`). */
  serviceList(app: string, call: CallOptions = {}): Promise<RackService[]> {
    return this.json('GET', `/apps/${seg(app)}/services`, call)
  }

  /**
   * BuildCreate; a lost answer is looked up in BuildList (a build not there before the call,
   * `created`, with this description and commit, no manifest yet) before creating again.
   */
  async buildCreate(
    app: string,
    params: BuildCreateParams,
    call: CallOptions = {}
  ): Promise<RackBuild> {
    const known = await this.buildIds(app, call)
    const since = Date.now()
    const b = await this.json<RackBuild>('POST', `/apps/${seg(app)}/builds`, {
      ...call,
      params: { url: '', ...params },
      recover: () =>
        this.findBuild(
          app,
          since,
          known,
          b =>
            b.status === 'created' &&
            !b.manifest &&
            (b.description ?? '') === (params.description ?? '') &&
            (b['git-sha'] ?? '') === (params['git-sha'] ?? '')
        )
    })
    this.maskRepository(b)
    return b
  }

  async buildGet(app: string, id: string, call: CallOptions = {}): Promise<RackBuild> {
    const b = await this.json<RackBuild>('GET', `/apps/${seg(app)}/builds/${seg(id)}`, call)
    this.maskRepository(b)
    return b
  }

  buildList(app: string, limit?: number, call: CallOptions = {}): Promise<RackBuild[]> {
    return this.json('GET', `/apps/${seg(app)}/builds`, { ...call, query: { limit } })
  }

  buildUpdate(
    app: string,
    id: string,
    params: BuildUpdateParams,
    call: CallOptions = {}
  ): Promise<RackBuild> {
    return this.json('PUT', `/apps/${seg(app)}/builds/${seg(id)}`, { ...call, params })
  }

  /**
   * POSTs the tarball, streamed from the file (never read whole into memory), bounded by
   * IMPORT_TIMEOUT_MS and never sent twice once it may have reached the rack: a lost answer is
   * looked up in BuildList (a build not there before, with the source's description, manifest
   * and logs, which BuildImport copies).
   */
  async buildImport(
    app: string,
    file: string,
    source: Pick<RackBuild, 'description' | 'manifest' | 'logs'> | undefined,
    call: CallOptions = {}
  ): Promise<RackBuild> {
    try {
      const s = await stat(file)
      if (!s.isFile()) throw new Error('not a file')
    } catch {
      throw new UserError({ input: 'import', message: `cannot read the tarball ${file}` })
    }
    const known = source ? await this.buildIds(app, call) : new Set<string>()
    const since = Date.now()
    return this.json('POST', `/apps/${seg(app)}/builds/import`, {
      ...call,
      body: () => createReadStream(file),
      resend: false,
      recover: source
        ? () =>
            this.findBuild(
              app,
              since,
              known,
              b =>
                (b.description ?? '') === (source.description ?? '') &&
                (b.manifest ?? '') === (source.manifest ?? '') &&
                (b.logs ?? '') === (source.logs ?? '')
            )
        : undefined
    })
  }

  objectStore(
    app: string,
    key: string,
    data: Buffer | string,
    options: { public?: boolean } = {},
    call: CallOptions = {}
  ): Promise<RackObject> {
    const headers: Record<string, string> =
      options.public === undefined ? {} : { Public: String(options.public) }
    // storing the same key again overwrites it (provider/k8s/object.go)
    return this.json('POST', `/apps/${seg(app)}/objects/${key.split('/').map(seg).join('/')}`, {
      ...call,
      body: data,
      headers,
      idempotent: true
    })
  }

  objectFetch(app: string, key: string, call: CallOptions = {}): Promise<Buffer> {
    return this.call('GET', `/apps/${seg(app)}/objects/${key.split('/').map(seg).join('/')}`, {
      ...call,
      parse: res => res.body
    })
  }

  /** ReleaseCreate; for a build's release, a lost answer is looked up in ReleaseList first. */
  releaseCreate(
    app: string,
    params: ReleaseCreateParams,
    call: CallOptions = {}
  ): Promise<RackRelease> {
    const build = params.build
    return this.json('POST', `/apps/${seg(app)}/releases`, {
      ...call,
      params,
      recover: build ? () => this.findRelease(app, build) : undefined
    })
  }

  releaseGet(app: string, id: string, call: CallOptions = {}): Promise<RackRelease> {
    return this.json('GET', `/apps/${seg(app)}/releases/${seg(id)}`, call)
  }

  releaseList(app: string, limit?: number, call: CallOptions = {}): Promise<RackRelease[]> {
    return this.json('GET', `/apps/${seg(app)}/releases`, { ...call, query: { limit } })
  }

  /** The rack answers `ok`; a lost answer counts as done when AppGet shows the release. */
  async releasePromote(
    app: string,
    id: string,
    params: ReleasePromoteParams = {},
    call: CallOptions = {}
  ): Promise<void> {
    await this.call<true>('POST', `/apps/${seg(app)}/releases/${seg(id)}/promote`, {
      ...call,
      params,
      parse: () => true,
      recover: async () => ((await this.appGet(app)).release === id ? true : undefined)
    })
  }

  /** The newest builds' ids: what a create made is what was not there before. */
  private async buildIds(app: string, call: CallOptions): Promise<Set<string>> {
    return new Set((await this.buildList(app, LOOKUP_LIMIT, call)).map(b => b.id))
  }

  /**
   * The build a lost create made: new since `known`, started in the call's time (the rack's
   * clock, read from its Date headers), matching. Exactly one, or none; several is an error.
   */
  private async findBuild(
    app: string,
    since: number,
    known: Set<string>,
    matches: (b: RackBuild) => boolean
  ): Promise<RackBuild | undefined> {
    const from = this.rackTime(since) - CLOCK_SLACK_MS
    const to = this.rackTime(Date.now()) + CLOCK_SLACK_MS
    const found = (await this.buildList(app, LOOKUP_LIMIT)).filter(b => {
      const t = parseAnyTime(b.started)?.getTime()
      return !known.has(b.id) && t !== undefined && t >= from && t <= to && matches(b)
    })
    if (found.length > 1) {
      throw new RackError(
        `rack ${this.host}: cannot tell which of builds ${found.map(b => b.id).join(', ')} this run made: none used`,
        0,
        'ambiguous builds',
        'refused'
      )
    }
    return found[0]
  }

  /** The release of `build` among the app's latest releases. */
  async findRelease(app: string, build: string): Promise<RackRelease | undefined> {
    return (await this.releaseList(app, LOOKUP_LIMIT)).find(r => r.build === build)
  }

  // --- transport ---

  json<T>(
    method: string,
    path: string,
    options: Omit<RequestOptions<T>, 'parse'> = {}
  ): Promise<T> {
    return this.call(method, path, {
      ...options,
      parse: res => {
        const text = res.body.toString('utf8')
        try {
          return JSON.parse(text) as T
        } catch {
          // a 2xx that is not the rack's (a proxy's page): its effect is unknown
          throw new RackError(
            this.scrub(`rack ${this.host}: ${method} ${path}: not a JSON answer: ${oneLine(text)}`),
            res.status,
            oneLine(text),
            'ambiguous'
          )
        }
      }
    })
  }

  /** One call under the retry policy (see the top of this file). */
  async call<T>(method: string, path: string, o: RequestOptions<T>): Promise<T> {
    const name = `${method} ${path}`
    const idempotent = o.idempotent ?? method !== 'POST'
    const run = o.signal === null ? undefined : (o.signal ?? this.options.signal)
    // A create already sent runs to its answer (within its bound) so that what it made is known;
    // reads and uploads stop at once.
    const interruptible = idempotent || typeof o.body === 'function'
    const stop = new AbortController()
    let inFlight = false
    const onAbort = (): void => {
      if (!inFlight || interruptible) stop.abort(run?.reason)
    }
    if (run?.aborted) stop.abort(run.reason)
    run?.addEventListener('abort', onAbort, { once: true })
    /** A create whose answer was lost: look it up before sending it again. */
    let lost: RackError | undefined

    const recover = async (failure: RackError): Promise<T | undefined> => {
      let found: T | undefined
      try {
        found = await o.recover!()
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e)
        throw new AbortError(
          new RackError(
            `${failure.message}; looking it up failed: ${why}`,
            failure.status,
            failure.rackMessage,
            failure.outcome,
            failure.timedOut
          )
        )
      }
      if (found !== undefined) {
        this.logger.info(`rack ${this.host}: ${name}: ${failure.rackMessage}; the rack had done it`)
      }
      return found
    }
    const notAgain = (failure: RackError): RackError =>
      new RackError(
        `${failure.message}; ${o.recover ? 'nothing of it found on the rack, ' : ''}not sent again`,
        failure.status,
        failure.rackMessage,
        failure.outcome,
        failure.timedOut
      )

    const attempt = async (): Promise<T> => {
      if (lost) {
        const failure = lost
        lost = undefined
        const found = await recover(failure)
        if (found !== undefined) return found
      }
      inFlight = true
      try {
        return o.parse(await this.once(method, path, o, interruptible ? stop.signal : undefined))
      } catch (e) {
        if (run?.aborted && !stop.signal.aborted) stop.abort(run.reason)
        if (e instanceof RackError && e.outcome === 'ambiguous' && !idempotent) {
          if (o.recover && !stop.signal.aborted) {
            if (!e.timedOut && o.resend !== false) {
              lost = e
              throw e
            }
            const found = await recover(e)
            if (found !== undefined) return found
          }
          throw new AbortError(notAgain(e))
        }
        throw e
      } finally {
        inFlight = false
      }
    }

    const retries = o.retries ?? this.options.retries ?? RETRIES
    try {
      return await withRetries(attempt, {
        retries,
        minTimeout: this.options.retryDelayMs,
        maxTimeout: this.options.maxRetryDelayMs,
        signal: stop.signal,
        shouldRetry: ({ error }) =>
          !stop.signal.aborted && this.mayResend(error, idempotent || !!lost),
        onFailedAttempt: ({ error, retriesLeft, attemptNumber }) => {
          if (stop.signal.aborted || retriesLeft === 0) return
          if (!(error instanceof RackError) || !this.mayResend(error, idempotent || !!lost)) return
          this.logger.info(
            `rack ${this.host}: ${name}: ${`${error.status || ''} ${error.rackMessage}`.trim()}; ${lost ? 'looking it up, then ' : ''}sending again (${attemptNumber}/${retries})`
          )
        }
      })
    } catch (e) {
      // the last send of a create lost its answer too: what did it make?
      if (lost && !stop.signal.aborted) {
        const failure = lost
        lost = undefined
        const found = await recover(failure).catch((x: unknown) => {
          throw x instanceof AbortError ? x.originalError : x
        })
        if (found !== undefined) return found
        throw notAgain(failure)
      }
      throw e
    } finally {
      run?.removeEventListener('abort', onAbort)
    }
  }

  /** What may be sent again; `resendable`: a read, or a create looked up first. */
  private mayResend(e: unknown, resendable: boolean): boolean {
    if (!(e instanceof RackError) || e.timedOut) return false
    if (e.outcome === 'unreached' || e.outcome === 'later') return true
    return e.outcome === 'ambiguous' && resendable
  }

  /** One exchange: the answer when it is 2xx, else RackError / RackAuthError / RackTlsError. */
  private async once<T>(
    method: string,
    path: string,
    o: RequestOptions<T>,
    signal: AbortSignal | undefined
  ): Promise<HttpAnswer> {
    const url = new URL(this.endpoint.href)
    url.pathname = `${this.endpoint.pathname.replace(/\/+$/, '')}${path}`
    url.search = encodeParams(o.query ?? {}).toString()
    const headers: Record<string, string> = {
      // JSON error bodies (stdapi writeErrorResponse answers JSON to clients that accept it)
      Accept: 'application/json',
      'User-Agent': this.options.userAgent ?? 'convox-build'
    }
    if (this.username || this.password) {
      headers.Authorization = `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`
    }
    if (this.rack) headers.Rack = this.rack
    let body: Buffer | string | (() => ReturnType<typeof createReadStream>) | undefined
    if (o.body !== undefined) {
      headers['Content-Type'] = 'application/octet-stream'
      body = o.body
      if (typeof body !== 'function') headers['Content-Length'] = String(Buffer.byteLength(body))
      // an upload waits for the rack's go-ahead: a refusal comes before any of it (core/http.ts)
      else headers.Expect = '100-continue'
    } else if (o.params) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded'
      body = encodeParams(o.params as Record<string, ParamValue>).toString()
      headers['Content-Length'] = String(Buffer.byteLength(body))
    }
    Object.assign(headers, o.headers)
    const upload = typeof body === 'function'
    const timeoutMs =
      o.timeoutMs ??
      (upload
        ? (this.options.importTimeoutMs ?? IMPORT_TIMEOUT_MS)
        : (this.options.timeoutMs ?? API_TIMEOUT_MS))
    const name = `${method} ${path}`
    this.logger.debug(`rack ${this.host}: ${name}`)
    const sentAt = Date.now()
    let res: HttpAnswer
    try {
      res = await exchange({
        method,
        url,
        headers,
        body,
        timeoutMs,
        signal,
        tls: this.tls,
        maxBytes: BODY_LIMITS.rack
      })
    } catch (e) {
      if (!(e instanceof ExchangeFailure)) throw e
      if (e.tls) {
        const why = (e.error as Error)?.message ?? String(e.error)
        throw new RackTlsError(
          this.scrub(
            `rack ${this.host}: its TLS certificate is not trusted (${oneLine(why)}): set rack-ca to a PEM bundle of the CA that signs it (or the rack's own certificate), or rack-insecure to skip verification`
          )
        )
      }
      const detail = this.scrub(describeFailure(e))
      throw new RackError(
        `rack ${this.host}: ${name}: ${detail}`,
        0,
        detail,
        e.sent ? 'ambiguous' : 'unreached',
        // an answer past its bound is not asked for again, as one that came too late
        e.timedOut || e.overrun
      )
    }
    this.noteClock(res, sentAt)
    if (res.status >= 200 && res.status < 300) return res
    const message = this.scrub(errorMessage(res))
    if (res.status === 401) {
      throw new RackAuthError(
        `rack ${this.host}: 401 ${message || 'unauthorized'}${authHint(res)}`,
        res.status
      )
    }
    if (res.status < 400) {
      const where = typeof res.headers.location === 'string' ? ` to ${res.headers.location}` : ''
      const text = this.scrub(`redirected${where}`)
      throw new RackError(
        `rack ${this.host}: ${name}: ${res.status} ${text}`,
        res.status,
        text,
        'refused'
      )
    }
    throw new RackError(
      `rack ${this.host}: ${name}: ${res.status} ${message}`.trimEnd(),
      res.status,
      message,
      answerOutcome(res.status, message)
    )
  }

  private noteClock(res: HttpAnswer, sentAt: number): void {
    const date = typeof res.headers.date === 'string' ? Date.parse(res.headers.date) : NaN
    if (!Number.isNaN(date)) this.clockOffsetMs = date - (sentAt + Date.now()) / 2
  }

  /** BuildCreate with external=true returns a push target holding the rack password. */
  private maskRepository(b: RackBuild): void {
    if (!b?.repository) return
    try {
      const u = parseRepositoryUrl(b.repository, [this.credentials])
      this.addSecret(u.password)
      this.addSecret(u.rawPassword)
    } catch {
      // not a repository: never shown either (createExternalBuild fails on it)
    }
  }
}

/**
 * The push target of a repository URL: `host/path` without scheme and credentials, and the login
 * it holds (the rack writes its password unescaped; `known` is the run's own login).
 */
export function repositoryTarget(
  repository: string,
  known: KnownLogin[] = []
): { repository: string; host: string; username: string; password: string } {
  const { repository: target, host, username, password } = parseRepositoryUrl(repository, known)
  return { repository: target, host, username, password }
}

/**
 * Where a rack keeps an app's images as its API's /v2/ registry proxy serves them, derived as
 * provider/k8s/build.go BuildCreate does for external builds: the API host, the provider's
 * RepositoryPrefix (`<rack>/` on aws, '' elsewhere: provider/*\/repository.go), the app.
 */
export function rackRepository(client: RackClient, system: RackSystem, app: string): string {
  const prefix = system.provider === 'aws' ? `${system.name}/` : ''
  const host =
    client.mode === 'direct'
      ? `${client.host}${client.endpoint.pathname.replace(/\/+$/, '')}`
      : (system['rack-domain'] ?? `api.${system.domain.replace(/^router\./, '')}`)
  return `${host}/${prefix}${app}`
}

/** stdsdk marshalValue: bool true|false, times in the sortable layout, lists comma-joined. */
export function encodeParams(params: Record<string, ParamValue>): URLSearchParams {
  const out = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue
    if (v instanceof Date) out.set(k, formatRackTime(v))
    else if (Array.isArray(v)) out.set(k, v.join(','))
    else out.set(k, String(v))
  }
  return out
}

function seg(s: string): string {
  return encodeURIComponent(s)
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 500)
}

/** stdsdk responseError: `{"error": "..."}`, else the trimmed body. */
function errorMessage(res: HttpAnswer): string {
  const text = res.body.toString('utf8')
  try {
    const j = JSON.parse(text) as { error?: unknown }
    if (typeof j.error === 'string' && j.error) return oneLine(j.error)
  } catch {
    // not JSON
  }
  return oneLine(text)
}

/** Console asks interactive users for a session (pkg/console/auth.go); CI needs a deploy key. */
function authHint(res: HttpAnswer): string {
  const challenge = res.headers['www-authenticate']
  return /^Session /.test(typeof challenge === 'string' ? challenge : '')
    ? ' (Console wants an interactive session: use a deploy key as convox-password)'
    : ''
}
