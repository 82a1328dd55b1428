// A client of the Convox rack API, following the CLI's own client: convox/convox sdk/sdk.go
// (headers, Basic auth, Console `Rack` header), sdk/methods.go (paths and params) and
// convox/stdsdk client.go / options.go (form encoding, raw bodies, error bodies).
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { UserError } from '../errors.js'
import type { Logger } from '../log.js'
import { Redactor } from '../secrets.js'
import { formatRackTime } from './time.js'
import type {
  BuildCreateParams,
  BuildUpdateParams,
  RackApp,
  RackBuild,
  RackObject,
  RackRelease,
  RackSystem,
  ReleaseCreateParams,
  ReleasePromoteParams
} from './types.js'

export const DEFAULT_CONVOX_HOST = 'console.convox.com'

export interface RackClientOptions {
  /** `https://convox:<password>@api.<domain>` (the `rack-url` input / RACK_URL). */
  rackUrl?: string
  /** Console mode: the Console host (default console.convox.com; `http://` allowed for tests). */
  convoxHost?: string
  /** Console mode: the deploy key. */
  convoxPassword?: string
  /** Console mode: `<org>/<rack>`, sent in the `Rack` header. */
  rack?: string
  /** The run's secrets: every credential is added before anything could print it. */
  secrets?: Redactor
  /** Retry notices go to info, request traces to debug. */
  logger?: Pick<Logger, 'info' | 'debug'>
  /** Attempts after the first on connection errors, 5xx and 409 (default 5). */
  retries?: number
  /** First backoff delay; doubles each retry (default 500 ms, at most maxRetryDelayMs). */
  retryDelayMs?: number
  maxRetryDelayMs?: number
  /** Per-request timeout for API calls (default 5 minutes); imports have none. */
  timeoutMs?: number
  userAgent?: string
}

export type RackMode = 'direct' | 'console'

/** A rack answer with status >= 400 (after retries), as one line: `rack <host>: <call>: <status> <error>`. */
export class RackError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly rackMessage: string
  ) {
    super(message)
    this.name = 'RackError'
  }
}

/** 401 / 403: the credentials are wrong; a mistake the user fixes. */
export class RackAuthError extends UserError {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message)
    this.name = 'RackAuthError'
  }
}

type ParamValue = string | number | boolean | Date | string[] | undefined

interface RequestOptions {
  params?: object
  query?: Record<string, ParamValue>
  /** A raw body; a function is called again on each attempt (a fresh stream). */
  body?: Buffer | string | (() => Readable)
  headers?: Record<string, string>
  /** false: no timeout (imports: the rack pushes every image before it answers). */
  timeoutMs?: number | false
}

/** Where the rack client talks to, from the settings; undefined when no rack is configured. */
export function rackClientOptions(settings: {
  rackUrl: string
  convoxHost: string
  convoxPassword: string
  rack: string
}): RackClientOptions | undefined {
  if (settings.rackUrl) return { rackUrl: settings.rackUrl }
  if (settings.convoxPassword) {
    return {
      convoxHost: settings.convoxHost,
      convoxPassword: settings.convoxPassword,
      rack: settings.rack
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

  constructor(options: RackClientOptions) {
    this.options = options
    this.secrets = options.secrets ?? new Redactor()
    if (options.rackUrl) {
      this.mode = 'direct'
      let u: URL
      try {
        u = new URL(options.rackUrl)
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
      this.username = decodeURIComponent(u.username)
      this.password = decodeURIComponent(u.password)
      this.rack = ''
      this.addSecret(u.password)
      u.username = ''
      u.password = ''
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
  }

  /** The rack password (direct) or deploy key (Console): for pushing through the rack's /v2/ proxy. */
  get credentials(): { username: string; password: string } {
    return { username: this.username, password: this.password }
  }

  /** Masks a secret (in every encoding) and hides it from every later error message. */
  addSecret(secret: string): void {
    this.secrets.add(secret)
  }

  /** Replaces every known secret in text with `***`. */
  scrub(text: string): string {
    return this.secrets.redact(text)
  }

  // --- typed calls (sdk/methods.go) ---

  systemGet(): Promise<RackSystem> {
    return this.json('GET', '/system')
  }

  appGet(app: string): Promise<RackApp> {
    return this.json('GET', `/apps/${seg(app)}`)
  }

  async buildCreate(app: string, params: BuildCreateParams): Promise<RackBuild> {
    const b = await this.json<RackBuild>('POST', `/apps/${seg(app)}/builds`, {
      params: { url: '', ...params }
    })
    this.maskRepository(b)
    return b
  }

  async buildGet(app: string, id: string): Promise<RackBuild> {
    const b = await this.json<RackBuild>('GET', `/apps/${seg(app)}/builds/${seg(id)}`)
    this.maskRepository(b)
    return b
  }

  buildList(app: string, limit?: number): Promise<RackBuild[]> {
    return this.json('GET', `/apps/${seg(app)}/builds`, { query: { limit } })
  }

  buildUpdate(app: string, id: string, params: BuildUpdateParams): Promise<RackBuild> {
    return this.json('PUT', `/apps/${seg(app)}/builds/${seg(id)}`, { params })
  }

  /** POSTs the tarball, streamed from the file (never read whole into memory). */
  async buildImport(app: string, file: string): Promise<RackBuild> {
    try {
      const s = await stat(file)
      if (!s.isFile()) throw new Error('not a file')
    } catch {
      throw new UserError({ input: 'import', message: `cannot read the tarball ${file}` })
    }
    return this.json('POST', `/apps/${seg(app)}/builds/import`, {
      body: () => createReadStream(file),
      timeoutMs: false
    })
  }

  objectStore(
    app: string,
    key: string,
    data: Buffer | string,
    options: { public?: boolean } = {}
  ): Promise<RackObject> {
    const headers: Record<string, string> =
      options.public === undefined ? {} : { Public: String(options.public) }
    return this.json('POST', `/apps/${seg(app)}/objects/${key.split('/').map(seg).join('/')}`, {
      body: data,
      headers
    })
  }

  async objectFetch(app: string, key: string): Promise<Buffer> {
    const res = await this.request(
      'GET',
      `/apps/${seg(app)}/objects/${key.split('/').map(seg).join('/')}`
    )
    return Buffer.from(await res.arrayBuffer())
  }

  releaseCreate(app: string, params: ReleaseCreateParams): Promise<RackRelease> {
    return this.json('POST', `/apps/${seg(app)}/releases`, { params })
  }

  releaseGet(app: string, id: string): Promise<RackRelease> {
    return this.json('GET', `/apps/${seg(app)}/releases/${seg(id)}`)
  }

  releaseList(app: string, limit?: number): Promise<RackRelease[]> {
    return this.json('GET', `/apps/${seg(app)}/releases`, { query: { limit } })
  }

  /** The rack answers `ok`. */
  async releasePromote(app: string, id: string, params: ReleasePromoteParams = {}): Promise<void> {
    const res = await this.request('POST', `/apps/${seg(app)}/releases/${seg(id)}/promote`, {
      params
    })
    await res.arrayBuffer()
  }

  // --- transport ---

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, options)
    const text = await res.text()
    try {
      return JSON.parse(text) as T
    } catch {
      throw new RackError(
        this.scrub(`rack ${this.host}: ${method} ${path}: invalid JSON answer: ${oneLine(text)}`),
        res.status,
        oneLine(text)
      )
    }
  }

  /** One call with retries; resolves to a 2xx/3xx response, else throws RackError / RackAuthError. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const retries = this.options.retries ?? 5
    const base = this.options.retryDelayMs ?? 500
    const max = this.options.maxRetryDelayMs ?? 10_000
    const call = `${method} ${path}`
    for (let attempt = 0; ; attempt++) {
      let res: Response | undefined
      let failure: string
      try {
        res = await this.send(method, path, options)
      } catch (e) {
        failure = this.scrub(connectionError(e))
        if (attempt >= retries) {
          throw new RackError(`rack ${this.host}: ${call}: ${failure}`, 0, failure)
        }
      }
      if (res) {
        if (res.status < 400) return res
        const message = this.scrub(await errorMessage(res))
        const retryable = res.status >= 500 || res.status === 409
        if (!retryable || attempt >= retries) {
          if (res.status === 401 || res.status === 403) {
            throw new RackAuthError(
              `rack ${this.host}: ${res.status} ${message || 'unauthorized'}${this.authHint(res)}`,
              res.status
            )
          }
          throw new RackError(
            `rack ${this.host}: ${call}: ${res.status} ${message}`.trimEnd(),
            res.status,
            message
          )
        }
        failure = `${res.status} ${message}`.trimEnd()
      }
      const delay = Math.min(max, base * 2 ** attempt) * (0.8 + Math.random() * 0.4)
      this.options.logger?.info(
        `rack ${this.host}: ${call}: ${failure!}; retrying in ${(delay / 1000).toFixed(1)}s (${attempt + 1}/${retries})`
      )
      await sleep(delay)
    }
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = new URL(this.endpoint.href)
    url.pathname = `${this.endpoint.pathname.replace(/\/+$/, '')}${path}`
    const query = encodeParams(options.query ?? {})
    url.search = query.toString()
    const headers: Record<string, string> = {
      // JSON error bodies (pkg/api error rendering answers JSON to clients that accept it)
      Accept: 'application/json',
      'User-Agent': this.options.userAgent ?? 'convox-build'
    }
    if (this.username || this.password) {
      headers.Authorization = `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`
    }
    if (this.rack) headers.Rack = this.rack
    let body: RequestInit['body']
    let duplex: 'half' | undefined
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/octet-stream'
      const b = options.body
      if (typeof b === 'function') {
        body = Readable.toWeb(b()) as ReadableStream<Uint8Array>
        duplex = 'half'
      } else {
        body = typeof b === 'string' ? b : new Uint8Array(b)
      }
    } else if (options.params) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded'
      body = encodeParams(options.params as Record<string, ParamValue>).toString()
    }
    Object.assign(headers, options.headers)
    const timeout = options.timeoutMs ?? this.options.timeoutMs ?? 300_000
    this.options.logger?.debug(`rack ${this.host}: ${method} ${path}`)
    const init: RequestInit & { duplex?: 'half' } = {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: timeout === false ? undefined : AbortSignal.timeout(timeout)
    }
    if (duplex) init.duplex = duplex
    return fetch(url, init)
  }

  private authHint(res: Response): string {
    // Console asks interactive users for a session (pkg/console/auth.go); CI needs a deploy key.
    if (/^Session /.test(res.headers.get('www-authenticate') ?? '')) {
      return ' (Console wants an interactive session: use a deploy key as convox-password)'
    }
    return ''
  }

  /** BuildCreate with external=true returns a push target holding the rack password. */
  private maskRepository(b: RackBuild): void {
    if (!b?.repository) return
    try {
      const u = new URL(b.repository)
      if (u.password) this.addSecret(u.password)
    } catch {
      // not a URL: nothing embedded to mask
    }
  }
}

/** The push target of a repository URL: `host/path` without scheme and credentials. */
export function repositoryTarget(repository: string): {
  repository: string
  host: string
  username: string
  password: string
} {
  let u: URL
  try {
    u = new URL(repository)
  } catch {
    // already host/path
    return { repository, host: repository.split('/')[0] ?? '', username: '', password: '' }
  }
  return {
    repository: `${u.host}${u.pathname.replace(/\/+$/, '')}`,
    host: u.host,
    username: safeDecode(u.username),
    password: safeDecode(u.password)
  }
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

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 500)
}

/** stdsdk responseError: `{"error": "..."}`, else the trimmed body, else the status. */
async function errorMessage(res: Response): Promise<string> {
  let text = ''
  try {
    text = await res.text()
  } catch {
    // body lost: the status alone will do
  }
  try {
    const j = JSON.parse(text) as { error?: unknown }
    if (typeof j.error === 'string' && j.error) return oneLine(j.error)
  } catch {
    // not JSON
  }
  return oneLine(text)
}

function connectionError(e: unknown): string {
  if (e instanceof Error) {
    if (e.name === 'TimeoutError') return 'request timed out'
    const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause
    if (cause?.code)
      return `connection failed: ${cause.code}${cause.message ? ` (${cause.message})` : ''}`
    if (cause?.message) return `connection failed: ${cause.message}`
    return `connection failed: ${e.message}`
  }
  return `connection failed: ${String(e)}`
}
