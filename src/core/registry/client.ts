import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { RemoteError, UserError } from '../errors.js'
import {
  BODY_LIMITS,
  ExchangeFailure,
  exchange,
  readWhole,
  transportFor,
  type HttpAnswer
} from '../http.js'
import { RETRIES, withRetries } from '../retry.js'
import type { Logger } from '../log.js'
import {
  basicAuthorization,
  pickChallenge,
  repositoryScope,
  tokenUrl,
  type Challenge,
  type CredentialLookup,
  type Credentials
} from './auth.js'
import {
  DOCKER_HUB,
  formatReference,
  isDockerHubHost,
  isLoopbackHost,
  manifestReference,
  type ImageReference,
  type RepositoryName
} from './reference.js'

export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'
} as const

const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerList,
  MediaType.dockerManifest
].join(', ')

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList
}

export interface Platform {
  architecture: string
  os: string
  variant?: string
  'os.version'?: string
}

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: Platform
  annotations?: Record<string, string>
  urls?: string[]
  /** An artifact's type (OCI 1.1): in a referrer's config descriptor and its referrers entry. */
  artifactType?: string
}

/** An image manifest or an index, as the JSON the registry holds. */
export interface ManifestJson {
  schemaVersion: number
  mediaType?: string
  config?: Descriptor
  layers?: Descriptor[]
  manifests?: Descriptor[]
  annotations?: Record<string, string>
  [key: string]: unknown
}

/** A manifest exactly as fetched: its bytes are what its digest covers. */
export interface FetchedManifest {
  bytes: Buffer
  mediaType: string
  digest: string
  json: ManifestJson
}

export interface RegistryClientOptions {
  credentials?: CredentialLookup
  /**
   * Where `docker.io` references are fetched from: our `docker-hub-registry` input. `docker.io`
   * (the default) means Docker Hub itself (registry-1.docker.io); anything else is a mirror.
   */
  dockerHubRegistry?: string
  /** Retries after the first attempt, on connection errors, timeouts and 5xx. Default 4. */
  retries?: number
  /** First backoff delay, doubled each retry. Default 500 ms. */
  retryDelayMs?: number
  /** Longest wait for a response, or between two chunks of a body sent. Default 60 s. */
  timeoutMs?: number
  /** Longest read of a whole answer (a manifest, a token), however it trickles. Default 2 min. */
  deadlineMs?: number
  logger?: Logger
  /** The run's signal: every request and stream stops when it is aborted. */
  signal?: AbortSignal
}

export type UploadResult = 'exists' | 'mounted' | 'uploaded'

export interface UploadOptions {
  /** Try a cross-repository mount from this repository first (same registry only). */
  mountFrom?: RepositoryName
  /** Upload in PATCH chunks of this many bytes (buffered one at a time) instead of one PUT. */
  chunkSize?: number
}

/** A body sent by a request: re-created for each attempt so that retries resend it whole. */
type BodyFactory = () => Buffer | string | Readable | Promise<Readable>

/** What an answer read whole is, for its bound and for the line that says it overran. */
interface Read {
  what: string
  maxBytes: number
}

interface SendOptions extends Read {
  scopes: string[]
  headers?: Record<string, string>
  body?: BodyFactory
  /** Bytes of a streamed body, sent as Content-Length. */
  contentLength?: number
}

class RetryableError extends Error {}

/** Distribution API v2 client: streams blobs, answers auth challenges, retries what is transient. */
export class RegistryClient {
  private readonly challenges = new Map<string, Challenge | null>()
  private readonly tokens = new Map<string, { token: string; expires: number }>()
  private readonly retries: number
  private readonly timeoutMs: number
  private readonly deadlineMs: number
  private readonly hub: string
  private readonly options: RegistryClientOptions

  constructor(options: RegistryClientOptions = {}) {
    this.options = options
    this.retries = options.retries ?? RETRIES
    this.timeoutMs = options.timeoutMs ?? 60_000
    this.deadlineMs = options.deadlineMs ?? 120_000
    const hub = (options.dockerHubRegistry ?? '').trim().replace(/^https?:\/\//, '')
    // registry-1.docker.io is Docker Hub's API host: any of its names means it
    this.hub = hub === '' || isDockerHubHost(hub) ? 'registry-1.docker.io' : hub
  }

  /** The host actually contacted for a registry name (`docker.io` → the hub or its mirror). */
  endpoint(registry: string): string {
    return registry === DOCKER_HUB ? this.hub : registry
  }

  /** True when both repositories live on the same endpoint (a blob mount is possible). */
  sameRegistry(a: RepositoryName, b: RepositoryName): boolean {
    return this.endpoint(a.registry) === this.endpoint(b.registry)
  }

  private baseUrl(host: string): string {
    return `${isLoopbackHost(host) ? 'http' : 'https'}://${host}`
  }

  /**
   * The login of the host actually contacted: a Docker Hub mirror gets its own login, never
   * Docker Hub's (which may be the push registry's password).
   */
  private credentialsFor(registry: string): Credentials | undefined {
    return this.options.credentials?.(this.endpoint(registry))
  }

  // ---- manifests ----

  async getManifest(ref: ImageReference): Promise<FetchedManifest> {
    const found = await this.findManifest(ref)
    if (!found) throw new UserError(`image ${formatReference(ref)} not found`)
    return found
  }

  /** The manifest, or undefined when the registry has none under that tag or digest. */
  async findManifest(ref: ImageReference): Promise<FetchedManifest | undefined> {
    const path = `/v2/${ref.repository}/manifests/${manifestReference(ref)}`
    return this.retry(ref.registry, async () => {
      const res = await this.send(ref.registry, 'GET', path, {
        scopes: [repositoryScope(ref.repository, 'pull')],
        headers: { accept: MANIFEST_ACCEPT },
        what: `manifest of ${formatReference(ref)}`,
        maxBytes: BODY_LIMITS.manifest
      })
      if (res.status === 404) {
        return undefined
      }
      await this.expectOk(res, ref.registry, `get manifest of ${formatReference(ref)}`)
      const bytes = res.body
      const digest = sha256(bytes)
      if (ref.digest && ref.digest !== digest) {
        throw new RemoteError(`manifest of ${formatReference(ref)} has digest ${digest}`)
      }
      const json = JSON.parse(bytes.toString('utf8')) as ManifestJson
      const header = (res.header('content-type') ?? '').split(';')[0]?.trim() ?? ''
      const mediaType =
        json.mediaType ||
        (header && header !== 'application/json' && header !== 'text/plain'
          ? header
          : json.manifests
            ? MediaType.ociIndex
            : MediaType.ociManifest)
      if (json.schemaVersion !== 2) {
        throw new UserError(`image ${formatReference(ref)}: manifest schema 1 is not supported`)
      }
      return { bytes, mediaType, digest, json }
    })
  }

  /** Pushes a manifest under a tag or its digest; returns its digest. */
  async putManifest(ref: ImageReference, bytes: Buffer, mediaType: string): Promise<string> {
    return (await this.pushManifest(ref, bytes, mediaType)).digest
  }

  /**
   * Pushes a manifest; with the registry's `OCI-Subject` header, which says it indexed the
   * manifest's subject (OCI distribution 1.1's referrers API).
   */
  async pushManifest(
    ref: ImageReference,
    bytes: Buffer,
    mediaType: string
  ): Promise<{ digest: string; ociSubject?: string }> {
    const path = `/v2/${ref.repository}/manifests/${manifestReference(ref)}`
    return this.retry(ref.registry, async () => {
      const res = await this.send(ref.registry, 'PUT', path, {
        scopes: [repositoryScope(ref.repository, 'pull,push')],
        headers: { 'content-type': mediaType },
        body: () => bytes,
        what: `push manifest ${formatReference(ref)}`,
        maxBytes: BODY_LIMITS.small
      })
      await this.expectOk(res, ref.registry, `push manifest ${formatReference(ref)}`)
      return { digest: sha256(bytes), ociSubject: res.header('oci-subject') ?? undefined }
    })
  }

  // ---- blobs ----

  /** Size of a blob, or undefined when the repository does not have it. */
  async headBlob(repo: RepositoryName, digest: string): Promise<number | undefined> {
    return this.retry(repo.registry, async () => {
      const res = await this.send(repo.registry, 'HEAD', `/v2/${repo.repository}/blobs/${digest}`, {
        scopes: [repositoryScope(repo.repository, 'pull')],
        what: `check blob ${digest}`,
        maxBytes: BODY_LIMITS.small
      })
      if (res.status === 404) return undefined
      await this.expectOk(res, repo.registry, `check blob ${digest}`)
      return Number(res.header('content-length') ?? '0')
    })
  }

  /** A blob as a stream (following the registry's redirects, e.g. to object storage). */
  async getBlob(repo: RepositoryName, digest: string): Promise<{ stream: Readable; size: number }> {
    const host = this.endpoint(repo.registry)
    const scopes = [repositoryScope(repo.repository, 'pull')]
    const url = `${this.baseUrl(host)}/v2/${repo.repository}/blobs/${digest}`
    return this.retry(repo.registry, async () => {
      // node:http rather than fetch: fetch reads bodies ahead of the consumer (tens of MB per
      // blob), node:http pauses the socket, so memory stays flat however large the layer.
      let res = await this.streamGet(url, await this.authorization(repo.registry, scopes))
      if (res.statusCode === 401) {
        const challenge = pickChallenge(headerOf(res, 'www-authenticate'))
        res.resume()
        if (challenge) {
          this.challenges.set(host, challenge)
          this.forgetTokens(host)
        }
        res = await this.streamGet(url, await this.authorization(repo.registry, scopes))
      }
      const status = res.statusCode ?? 0
      if (status === 200) {
        return { stream: res, size: Number(res.headers['content-length'] ?? '-1') }
      }
      const body = await this.readError(res)
      if (status === 404) {
        throw new RemoteError(`blob ${digest} not found in ${host}/${repo.repository}`)
      }
      throw this.statusError({ status }, host, `get blob ${digest}`, body)
    })
  }

  /** A small blob (an image's config) read whole, within its bound. */
  async readBlob(repo: RepositoryName, digest: string): Promise<Buffer> {
    const { stream } = await this.getBlob(repo, digest)
    try {
      return await readWhole(stream, BODY_LIMITS.config, this.deadlineMs)
    } catch (e) {
      if (this.options.signal?.aborted) throw this.options.signal.reason
      const host = this.endpoint(repo.registry)
      throw new RemoteError(`registry ${host}: blob ${digest}: ${(e as Error).message}`)
    }
  }

  /** The body of an error answer to a streamed GET, bounded ('' past the bound). */
  private async readError(res: IncomingMessage): Promise<string> {
    try {
      return (await readWhole(res, BODY_LIMITS.small, this.deadlineMs)).toString('utf8')
    } catch {
      return ''
    }
  }

  /** GET with redirects followed; credentials only sent to the registry's own origin. */
  private async streamGet(url: string, authorization?: string, hops = 0): Promise<IncomingMessage> {
    const target = new URL(url)
    const headers: Record<string, string> = {}
    if (authorization) headers.authorization = authorization
    const transport = await transportFor(target)
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const agent = transport.keepAlive
      const req = transport.get(target, { headers, agent, signal: this.options.signal }, resolve)
      req.setTimeout(this.timeoutMs, () =>
        req.destroy(new TimeoutError(`no answer within ${this.timeoutMs / 1000}s`))
      )
      req.on('error', e =>
        reject(
          this.options.signal?.aborted
            ? this.options.signal.reason
            : e instanceof TimeoutError
              ? new RetryableError(e.message)
              : networkError(e)
        )
      )
    })
    const next = redirect(res.statusCode ?? 0, res.headers.location, target, headers, hops)
    if (next) {
      res.resume()
      return this.streamGet(next.url.toString(), next.headers.authorization, hops + 1)
    }
    return res
  }

  /**
   * Uploads a blob unless the repository has it: a cross-repository mount first when
   * `mountFrom` is on the same registry, else the bytes from `open()` (called again on retry).
   */
  async uploadBlob(
    repo: RepositoryName,
    blob: { digest: string; size: number },
    open: () => Readable | Promise<Readable>,
    options: UploadOptions = {}
  ): Promise<UploadResult> {
    if ((await this.headBlob(repo, blob.digest)) !== undefined) return 'exists'
    const mount =
      options.mountFrom && this.sameRegistry(options.mountFrom, repo)
        ? options.mountFrom
        : undefined
    const scopes = [repositoryScope(repo.repository, 'pull,push')]
    if (mount && mount.repository !== repo.repository) {
      scopes.push(repositoryScope(mount.repository, 'pull'))
    }
    return this.retry(repo.registry, async () => {
      const query =
        mount && mount.repository !== repo.repository
          ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(mount.repository)}`
          : ''
      const start = await this.send(
        repo.registry,
        'POST',
        `/v2/${repo.repository}/blobs/uploads/${query}`,
        {
          scopes,
          headers: { 'content-length': '0' },
          body: () => Buffer.alloc(0),
          what: `start upload of ${blob.digest}`,
          maxBytes: BODY_LIMITS.small
        }
      )
      await this.expectOk(start, repo.registry, `start upload of ${blob.digest}`)
      if (start.status === 201 && query) return 'mounted'
      let location = this.location(repo.registry, start)
      if (options.chunkSize && options.chunkSize > 0) {
        location = await this.uploadChunks(repo, location, open, options.chunkSize, scopes)
        const done = await this.send(repo.registry, 'PUT', withDigest(location, blob.digest), {
          scopes,
          headers: { 'content-length': '0' },
          body: () => Buffer.alloc(0),
          what: `finish upload of ${blob.digest}`,
          maxBytes: BODY_LIMITS.small
        })
        await this.expectOk(done, repo.registry, `finish upload of ${blob.digest}`)
      } else {
        const done = await this.send(repo.registry, 'PUT', withDigest(location, blob.digest), {
          scopes,
          headers: { 'content-type': 'application/octet-stream' },
          body: open,
          contentLength: blob.size,
          what: `upload ${blob.digest}`,
          maxBytes: BODY_LIMITS.small
        })
        await this.expectOk(done, repo.registry, `upload ${blob.digest}`)
      }
      return 'uploaded'
    })
  }

  private async uploadChunks(
    repo: RepositoryName,
    location: string,
    open: () => Readable | Promise<Readable>,
    chunkSize: number,
    scopes: string[]
  ): Promise<string> {
    let offset = 0
    const send = async (chunk: Buffer): Promise<void> => {
      const res = await this.send(repo.registry, 'PATCH', location, {
        scopes,
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.length - 1}`
        },
        body: () => chunk,
        contentLength: chunk.length,
        what: 'upload chunk',
        maxBytes: BODY_LIMITS.small
      })
      await this.expectOk(res, repo.registry, 'upload chunk')
      location = this.location(repo.registry, res)
      offset += chunk.length
    }
    let pending: Buffer[] = []
    let pendingBytes = 0
    for await (const data of await open()) {
      let buf = data as Buffer
      while (buf.length > 0) {
        const take = Math.min(buf.length, chunkSize - pendingBytes)
        pending.push(buf.subarray(0, take))
        pendingBytes += take
        buf = buf.subarray(take)
        if (pendingBytes === chunkSize) {
          await send(Buffer.concat(pending))
          pending = []
          pendingBytes = 0
        }
      }
    }
    if (pendingBytes > 0) await send(Buffer.concat(pending))
    return location
  }

  private location(registry: string, res: HttpAnswer): string {
    const loc = res.header('location')
    if (!loc)
      throw new RemoteError(
        `registry ${this.endpoint(registry)}: upload response without a Location`
      )
    return new URL(loc, this.baseUrl(this.endpoint(registry))).toString()
  }

  // ---- login ----

  /**
   * Verifies credentials the way `docker login` does: GET /v2/ and, when challenged, Basic auth or
   * the token flow. A rejected login is a one-line UserError naming the registry.
   */
  async checkLogin(host: string, credentials: Credentials): Promise<void> {
    const base = this.baseUrl(host)
    const wrong = (): UserError =>
      new UserError(`login to ${host} failed: wrong username or password`)
    await this.retry(host, async () => {
      const login: Read = { what: 'log in', maxBytes: BODY_LIMITS.small }
      const first = await this.fetchOnce('GET', `${base}/v2/`, {}, login)
      if (first.ok) return
      if (first.status !== 401) throw this.statusError(first, host, 'log in', '')
      const challenge = pickChallenge(first.header('www-authenticate'))
      if (!challenge) {
        throw new RemoteError(`registry ${host}: unsupported authentication challenge`)
      }
      // Later requests to the host authenticate at once instead of learning this again.
      this.challenges.set(host, challenge)
      let authorization: string
      if (challenge.scheme === 'basic') {
        authorization = basicAuthorization(credentials)
      } else {
        const res = await this.fetchOnce(
          'GET',
          tokenUrl(challenge, [], credentials.username).toString(),
          { authorization: basicAuthorization(credentials) },
          { what: 'token', maxBytes: BODY_LIMITS.small }
        )
        if (res.status === 401 || res.status === 403) {
          throw wrong()
        }
        if (!res.ok) throw this.statusError(res, host, 'get a token', '')
        authorization = `Bearer ${readToken(res)}`
      }
      const second = await this.fetchOnce('GET', `${base}/v2/`, { authorization }, login)
      if (second.status === 401 || second.status === 403) throw wrong()
      if (!second.ok) throw this.statusError(second, host, 'log in', '')
    })
  }

  // ---- plumbing ----

  /** One request with authentication: answers a 401 challenge once. No retry here. */
  private async send(
    registry: string,
    method: string,
    pathOrUrl: string,
    options: SendOptions
  ): Promise<HttpAnswer> {
    const host = this.endpoint(registry)
    const url = pathOrUrl.startsWith('/') ? `${this.baseUrl(host)}${pathOrUrl}` : pathOrUrl
    const attempt = async (): Promise<HttpAnswer> => {
      const headers: Record<string, string> = { ...options.headers }
      const authorization = await this.authorization(registry, options.scopes)
      if (authorization) headers.authorization = authorization
      if (options.contentLength !== undefined)
        headers['content-length'] = String(options.contentLength)
      return this.fetchOnce(method, url, headers, options, options.body)
    }
    const known = this.challenges.has(host)
    let res = await attempt()
    if (res.status === 401) {
      const challenge = pickChallenge(res.header('www-authenticate'))
      const previous = this.challenges.get(host)
      const changed =
        !known ||
        !previous ||
        !challenge ||
        previous.scheme !== challenge.scheme ||
        challenge.params.error === 'invalid_token'
      if (challenge && changed) {
        this.challenges.set(host, challenge)
        this.forgetTokens(host)
        res = await attempt()
      }
    } else if (!known && res.ok) {
      this.challenges.set(host, null)
    }
    return res
  }

  private forgetTokens(host: string): void {
    for (const key of this.tokens.keys()) if (key.startsWith(`${host} `)) this.tokens.delete(key)
  }

  private async authorization(registry: string, scopes: string[]): Promise<string | undefined> {
    const host = this.endpoint(registry)
    const challenge = this.challenges.get(host)
    if (!challenge) return undefined
    const credentials = this.credentialsFor(registry)
    if (challenge.scheme === 'basic')
      return credentials ? basicAuthorization(credentials) : undefined
    const key = `${host} ${scopes.join(' ')}`
    const cached = this.tokens.get(key)
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`
    const url = tokenUrl(challenge, scopes, credentials?.username).toString()
    const res = await this.fetchOnce(
      'GET',
      url,
      credentials ? { authorization: basicAuthorization(credentials) } : {},
      { what: 'token', maxBytes: BODY_LIMITS.small }
    )
    if (res.status === 401 || res.status === 403) {
      throw credentials
        ? new UserError(`login to ${host} failed: wrong username or password`)
        : new UserError(`registry ${host}: access denied (no credentials given for ${host})`)
    }
    if (!res.ok) throw this.statusError(res, host, 'get a token', '')
    const body = JSON.parse(res.text()) as {
      token?: string
      access_token?: string
      expires_in?: number
    }
    const token = body.token ?? body.access_token
    if (!token) throw new RemoteError(`registry ${host}: token response without a token`)
    // Renew a little early; the spec's default lifetime is 60 s.
    const lifetime = Math.max(30, body.expires_in ?? 60) * 1000
    this.tokens.set(key, { token, expires: Date.now() + lifetime - 10_000 })
    return `Bearer ${token}`
  }

  private async fetchOnce(
    method: string,
    url: string,
    headers: Record<string, string>,
    read: Read,
    body?: BodyFactory,
    hops = 0
  ): Promise<HttpAnswer> {
    // The body first: a source that fails to open leaves no timer or listener behind.
    const data = body ? await body() : undefined
    const outer = this.options.signal
    if (outer?.aborted) {
      if (data instanceof Readable) data.destroy()
      throw outer.reason
    }
    const target = new URL(url)
    let res: HttpAnswer
    try {
      res = await exchange({
        method,
        url: target,
        headers: { 'user-agent': 'convox-build', ...headers },
        body: data instanceof Readable ? () => data : data,
        timeoutMs: this.timeoutMs,
        idle: true,
        deadlineMs: this.deadlineMs,
        maxBytes: read.maxBytes,
        signal: outer,
        keepAlive: true
      })
    } catch (e) {
      if (outer?.aborted) throw outer.reason
      if (!(e instanceof ExchangeFailure)) throw e
      // the host actually read: a token's realm may be another
      if (e.overrun) throw new RemoteError(`registry ${target.host}: ${read.what}: ${e.message}`)
      if (e.timedOut) throw new RetryableError(`${read.what}: ${e.message}`)
      throw networkError(e.error)
    }
    // Redirects are followed as fetch would: of reads, and 307/308 of a body that can be sent again.
    const reading = method === 'GET' || method === 'HEAD'
    const resend = (res.status === 307 || res.status === 308) && !(data instanceof Readable)
    const next =
      reading || resend
        ? redirect(res.status, res.header('location'), target, headers, hops)
        : undefined
    if (next) {
      const again = reading ? undefined : () => data!
      return this.fetchOnce(method, next.url.toString(), next.headers, read, again, hops + 1)
    }
    return res
  }

  private async expectOk(res: HttpAnswer, registry: string, what: string): Promise<void> {
    if (res.ok) return
    const text = res.text()
    throw this.statusError(res, this.endpoint(registry), what, text)
  }

  private statusError(res: { status: number }, host: string, what: string, body: string): Error {
    let detail = ''
    try {
      const parsed = JSON.parse(body) as { errors?: { code?: string; message?: string }[] }
      const first = parsed.errors?.[0]
      if (first) detail = `: ${[first.code, first.message].filter(Boolean).join(' ')}`
    } catch {
      detail = ''
    }
    const message = `registry ${host}: cannot ${what}: HTTP ${res.status}${detail}`
    if (res.status >= 500) return new RetryableError(message)
    if (res.status === 401 || res.status === 403) {
      const credentials = this.options.credentials?.(host)
      return new UserError(`${message}${credentials ? '' : ` (no credentials given for ${host})`}`)
    }
    return new RemoteError(message)
  }

  /** Runs fn, retrying connection errors, timeouts and 5xx with exponential backoff. */
  private async retry<T>(registry: string, fn: () => Promise<T>): Promise<T> {
    const host = this.endpoint(registry)
    try {
      return await withRetries(fn, {
        retries: this.retries,
        minTimeout: this.options.retryDelayMs,
        signal: this.options.signal,
        shouldRetry: ({ error }) => error instanceof RetryableError,
        onFailedAttempt: ({ error, retriesLeft }) => {
          if (error instanceof RetryableError && retriesLeft > 0) {
            this.options.logger?.debug(`registry ${host}: ${error.message}; trying again`)
          }
        }
      })
    } catch (e) {
      if (!(e instanceof RetryableError)) throw e
      throw new RemoteError(
        `registry ${host}: ${e.message} (gave up after ${this.retries + 1} attempts)`
      )
    }
  }
}

class TimeoutError extends Error {}

/** A transport failure, retryable (the request never got an answer). */
function networkError(e: unknown): Error {
  if (e instanceof UserError || e instanceof RetryableError) return e
  const code = (e as NodeJS.ErrnoException).code
  return new RetryableError(code ? `cannot connect (${code})` : (e as Error).message)
}

/**
 * Where a redirect answer sends its request (five hops at most), with the login kept only to the
 * same origin; undefined for any other answer.
 */
function redirect(
  status: number,
  location: string | null | undefined,
  from: URL,
  headers: Record<string, string>,
  hops: number
): { url: URL; headers: Record<string, string> } | undefined {
  if (!location || ![301, 302, 303, 307, 308].includes(status) || hops >= 5) return undefined
  const url = new URL(location, from)
  const onward = { ...headers }
  if (url.origin !== from.origin) delete onward.authorization
  return { url, headers: onward }
}

function headerOf(res: IncomingMessage, name: string): string | null {
  const v = res.headers[name]
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null)
}

function readToken(res: HttpAnswer): string {
  const body = JSON.parse(res.text()) as { token?: string; access_token?: string }
  const token = body.token ?? body.access_token
  if (!token) throw new Error('token response without a token')
  return token
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location)
  url.searchParams.set('digest', digest)
  return url.toString()
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}
