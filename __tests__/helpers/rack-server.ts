// A Convox rack API for tests, written from the rack's contract (convox/convox at 3.24.x).
// Each behaviour names the rack source it follows. In-memory records; images go to the rig's
// real registry, through a /v2/ proxy like the rack's own.
import { spawn } from 'node:child_process'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import tar from 'tar-stream'
import { formatGoTime, GO_ZERO_TIME } from '../../src/core/export/record.js'
import { parseRackTime } from '../../src/core/rack/time.js'

export interface ServerBuild {
  id: string
  app: string
  description: string
  entrypoint: string
  gitSha: string
  logs: string
  manifest: string
  process: string
  release: string
  reason: string
  status: string
  started?: Date
  ended?: Date
}

export interface ServerRelease {
  id: string
  app: string
  build: string
  env: string
  manifest: string
  description: string
  created: Date
}

export interface ServerApp {
  name: string
  release: string
  status: 'running' | 'updating' | 'rollback'
  /** What the next promote does: roll out fine, or roll back to the release before it. */
  promoteOutcome: 'success' | 'rollback'
  /** AppGet answers while a promote is in progress before it settles. */
  updatingPolls: number
  /** App parameters AppGet answers (e.g. BuildArch). */
  parameters: Record<string, string>
  /** internal: polls left, and the release to fall back to */
  pending?: { left: number; release: string; previous: string }
}

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  /** Decoded form params (body and query, like Go's r.Form). */
  params: Record<string, string>
  headers: http.IncomingHttpHeaders
  /** The Rack header (Console mode). */
  rack: string | undefined
  status: number
}

export interface Fault {
  method?: string
  /** Path match (exact string or RegExp on the path without query). */
  path: string | RegExp
  /** Requests left to fail. */
  times: number
  /** HTTP status; 'drop' closes the connection without an answer; 'hang' never answers. */
  status: number | 'drop' | 'hang'
  message?: string
}

export interface UpstreamRegistry {
  /** host:port (plain HTTP). */
  host: string
  username: string
  password: string
}

export interface RackServerOptions {
  /** Rack password (default random). */
  password?: string
  /** A JWT accepted with user `jwt` (pkg/api/api.go authenticate). */
  jwtToken?: string
  name?: string
  apps?: string[]
  /** Where images live (the rig's registry); the /v2/ proxy and imports need it. */
  registry?: UpstreamRegistry
  /** Console mode: answer only requests carrying this `Rack` header. */
  requireRack?: string
  /** Import every platform of an index (`skopeo copy --all`), as racks do since 3.25.3. */
  importAll?: boolean
}

export interface RackServer {
  /** http://127.0.0.1:<port> */
  url: string
  /** http://convox:<password>@127.0.0.1:<port> (a rack-url) */
  rackUrl: string
  /** 127.0.0.1:<port> */
  host: string
  password: string
  name: string
  apps: Map<string, ServerApp>
  builds: Map<string, ServerBuild>
  releases: Map<string, ServerRelease>
  /** `<app>/<key>` to content. */
  objects: Map<string, Buffer>
  requests: RecordedRequest[]
  faults: Fault[]
  /** Every request answers 401 while set. */
  forceUnauthorized: boolean
  /** Failed skopeo pushes of imports (the rack ignores them; tests can look). */
  importFailures: string[]
  addApp(name: string): ServerApp
  /** Makes the next `times` requests matching path (and method) fail. */
  fail(fault: Omit<Fault, 'times' | 'status'> & Partial<Pick<Fault, 'times' | 'status'>>): void
  buildsOf(app: string): ServerBuild[]
  releasesOf(app: string): ServerRelease[]
  /** The repository images are stored in for an app: `<registry>/<app>`. */
  upstreamRepository(app: string): string
  close(): Promise<void>
}

/** HTTP errors carry a status like the rack's stdapi.Errorf / structs.Err* types. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
  }
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
/** pkg/structs id(): prefix + 10 random capital letters. */
function newId(prefix: string): string {
  const bytes = randomBytes(10)
  return prefix + [...bytes].map(b => LETTERS[b % 26]).join('')
}

export async function startRackServer(options: RackServerOptions = {}): Promise<RackServer> {
  const password = options.password ?? randomBytes(12).toString('hex')
  const state: RackServer = {
    url: '',
    rackUrl: '',
    host: '',
    password,
    name: options.name ?? 'test-rack',
    apps: new Map(),
    builds: new Map(),
    releases: new Map(),
    objects: new Map(),
    requests: [],
    faults: [],
    forceUnauthorized: false,
    importFailures: [],
    addApp(name) {
      const app: ServerApp = {
        name,
        release: '',
        status: 'running',
        promoteOutcome: 'success',
        updatingPolls: 1,
        parameters: {}
      }
      state.apps.set(name, app)
      return app
    },
    fail(f) {
      state.faults.push({ times: 1, status: 503, ...f })
    },
    buildsOf(app) {
      return [...state.builds.values()].filter(b => b.app === app)
    },
    releasesOf(app) {
      return [...state.releases.values()].filter(r => r.app === app)
    },
    upstreamRepository(app) {
      if (!options.registry) throw new Error('rack server: no upstream registry configured')
      return `${options.registry.host}/${app}`
    },
    close: () => Promise.resolve()
  }
  for (const a of options.apps ?? []) state.addApp(a)

  const server = http.createServer((req, res) => {
    handle(state, options, req, res).catch((e: unknown) => {
      if (!res.headersSent) sendError(req, res, 500, e instanceof Error ? e.message : String(e))
      else res.destroy()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  state.host = `127.0.0.1:${port}`
  state.url = `http://${state.host}`
  state.rackUrl = `http://convox:${encodeURIComponent(password)}@${state.host}`
  state.close = () =>
    new Promise<void>(resolve => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return state
}

/**
 * stdapi + pkg/api error rendering: `{"error": "..."}` as application/json when the request
 * accepts JSON (pkg/api/error_status_test.go), else plain text like net/http's http.Error.
 */
function sendError(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  message: string
): void {
  const accept = req.headers.accept ?? ''
  if (/application\/json/.test(accept)) {
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ error: message }))
  } else {
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'X-Content-Type-Options': 'nosniff'
    })
    res.end(`${message}\n`)
  }
}

/** stdapi Context.RenderJSON: indented JSON and a newline. */
function sendJson(res: http.ServerResponse, value: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json' })
  res.end(`${JSON.stringify(value, null, 2)}\n`)
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** pkg/api/api.go authenticate: user `jwt` means a token, else only the password is compared. */
function authenticate(
  state: RackServer,
  options: RackServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse
): boolean {
  const auth = req.headers.authorization ?? ''
  let user = ''
  let pass = ''
  const m = /^Basic\s+(.+)$/i.exec(auth)
  if (m?.[1]) {
    const decoded = Buffer.from(m[1], 'base64').toString('utf8')
    const i = decoded.indexOf(':')
    user = i < 0 ? decoded : decoded.slice(0, i)
    pass = i < 0 ? '' : decoded.slice(i + 1)
  }
  if (state.forceUnauthorized) {
    res.setHeader('WWW-Authenticate', 'Basic realm="convox"')
    sendError(req, res, 401, 'invalid authentication')
    return false
  }
  if (user === 'jwt') {
    if (!options.jwtToken || !safeEqual(options.jwtToken, pass)) {
      sendError(req, res, 401, 'invalid authentication: token is invalid')
      return false
    }
    return true
  }
  if (state.password !== '' && !safeEqual(state.password, pass)) {
    res.setHeader('WWW-Authenticate', 'Basic realm="convox"')
    sendError(req, res, 401, 'invalid authentication')
    return false
  }
  return true
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

async function handle(
  state: RackServer,
  options: RackServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://rack')
  const method = req.method ?? 'GET'
  const record: RecordedRequest = {
    method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    params: Object.fromEntries(url.searchParams),
    headers: req.headers,
    rack: typeof req.headers.rack === 'string' ? req.headers.rack : undefined,
    status: 0
  }
  state.requests.push(record)
  res.on('finish', () => (record.status = res.statusCode))

  const fault = state.faults.find(
    f =>
      f.times > 0 &&
      (!f.method || f.method === method) &&
      (typeof f.path === 'string' ? f.path === url.pathname : f.path.test(url.pathname))
  )
  if (fault) {
    fault.times--
    await readBody(req)
    if (fault.status === 'drop') {
      req.socket.destroy()
      return
    }
    if (fault.status === 'hang') return
    sendError(req, res, fault.status, fault.message ?? `injected ${fault.status}`)
    return
  }

  // pkg/api/api.go: securityHeaders then authenticate on every route, /v2/ included
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('X-Frame-Options', 'DENY')
  if (!authenticate(state, options, req, res)) {
    req.resume()
    return
  }
  if (options.requireRack !== undefined && record.rack !== options.requireRack) {
    req.resume()
    sendError(req, res, 404, `no such rack: ${record.rack ?? ''}`)
    return
  }

  if (url.pathname === '/v2' || url.pathname.startsWith('/v2/')) {
    await registryProxy(state, options, req, res, url)
    return
  }

  // Go's r.Form: form body values, then the query's (stdapi UnmarshalOptions reads r.Form)
  const contentType = req.headers['content-type'] ?? ''
  let raw: Buffer | undefined
  if (!/^\/apps\/[^/]+\/builds\/import$/.test(url.pathname)) {
    raw = await readBody(req)
    if (contentType.startsWith('application/x-www-form-urlencoded')) {
      const form = new URLSearchParams(raw.toString('utf8'))
      // body values come first in r.Form, and fetchForm takes the first
      record.params = { ...record.query }
      for (const k of new Set(form.keys())) record.params[k] = form.get(k) ?? ''
    }
  }

  try {
    const out = await route(state, options, req, res, method, url.pathname, record.params, raw)
    if (out === undefined) return
    if (out === 'ok') {
      // stdapi RenderOK
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('ok\n')
      return
    }
    sendJson(res, out)
  } catch (e) {
    if (e instanceof ApiError) sendError(req, res, e.status, e.message)
    else throw e
  }
}

/** A Kubernetes NotFound as provider/k8s answers it: `builds.convox.com "bx" not found`, 500. */
function notFound(kind: 'builds' | 'releases', id: string): ApiError {
  return new ApiError(500, `${kind}.convox.com "${id.toLowerCase()}" not found`)
}

function time(params: Record<string, string>, name: string): Date | undefined {
  const v = params[name]
  if (v === undefined) return undefined
  const d = parseRackTime(v)
  // stdapi options.go: time.Parse error is not an stdapi.Error, so the rack answers 500
  if (!d)
    throw new ApiError(500, `parsing time "${v}" as "20060102.150405.000000000": cannot parse`)
  return d
}

/** stdapi options.go unmarshalValue: a bool is `v == "true"`. */
function bool(params: Record<string, string>, name: string): boolean | undefined {
  const v = params[name]
  return v === undefined ? undefined : v === 'true'
}

function buildJson(b: ServerBuild, repository = ''): Record<string, string> {
  // pkg/structs/build.go json tags
  return {
    id: b.id,
    app: b.app,
    description: b.description,
    entrypoint: b.entrypoint,
    'git-sha': b.gitSha,
    logs: b.logs,
    manifest: b.manifest,
    process: b.process,
    release: b.release,
    reason: b.reason,
    repository,
    status: b.status,
    started: jsonTime(b.started),
    ended: jsonTime(b.ended)
  }
}

function releaseJson(r: ServerRelease): Record<string, string> {
  return {
    id: r.id,
    app: r.app,
    build: r.build,
    env: r.env,
    manifest: r.manifest,
    description: r.description,
    created: jsonTime(r.created)
  }
}

async function route(
  state: RackServer,
  options: RackServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  method: string,
  pathname: string,
  params: Record<string, string>,
  raw: Buffer | undefined
): Promise<unknown> {
  const parts = pathname.split('/').slice(1).map(decodeURIComponent)
  const appOf = (name: string): ServerApp => {
    const a = state.apps.get(name)
    if (!a) throw new ApiError(404, `app not found: ${name}`)
    return a
  }
  // Kubernetes NotFound is not mapped to 404 (scripts/rack/README.md): a 500 naming the CRD
  const buildOf = (app: string, id: string): ServerBuild => {
    const b = state.builds.get(id)
    if (!b || b.app !== app) throw notFound('builds', id)
    return b
  }

  // pkg/api/routes.go, in its order
  if (method === 'GET' && pathname === '/system') {
    // provider/k8s/system.go SystemGet
    return {
      count: 1,
      domain: `router.${state.host}`,
      name: state.name,
      provider: 'k8s',
      'rack-domain': state.host,
      region: '',
      status: 'running',
      type: '',
      version: '3.24.0'
    }
  }
  if (parts[0] !== 'apps' || !parts[1]) throw new ApiError(404, `not found: ${method} ${pathname}`)
  const appName = parts[1]

  if (method === 'GET' && parts.length === 2) {
    const a = appOf(appName)
    settlePromote(state, a)
    return {
      generation: '3',
      locked: false,
      name: a.name,
      release: a.release,
      router: `router.${state.host}`,
      status: a.status,
      parameters: a.parameters
    }
  }

  if (parts[2] === 'builds') {
    if (method === 'POST' && parts.length === 3) return buildCreate(state, appOf(appName), params)
    if (method === 'GET' && parts.length === 4 && parts[3]?.endsWith('.tgz')) {
      throw new ApiError(501, 'build export is not implemented by the test rack')
    }
    if (method === 'GET' && parts.length === 4) return buildJson(buildOf(appName, parts[3]!))
    if (method === 'POST' && parts.length === 4 && parts[3] === 'import') {
      appOf(appName)
      return buildImport(state, options, appName, req)
    }
    if (method === 'GET' && parts.length === 3) {
      // provider/k8s/build.go BuildList: app must exist, default limit 10, newest first
      appOf(appName)
      const limit = params.limit === undefined ? 10 : Number.parseInt(params.limit, 10)
      if (Number.isNaN(limit))
        throw new ApiError(500, `strconv.Atoi: parsing "${params.limit}": invalid syntax`)
      return state
        .buildsOf(appName)
        .sort((a, b) => (b.started?.getTime() ?? 0) - (a.started?.getTime() ?? 0))
        .slice(0, limit)
        .map(b => buildJson(b))
    }
    if (method === 'PUT' && parts.length === 4) {
      // provider/k8s/build.go BuildUpdate: only these params; anything else (reason) is ignored
      const b = buildOf(appName, parts[3]!)
      const ended = time(params, 'ended')
      const started = time(params, 'started')
      if (ended) b.ended = ended
      if (params.entrypoint !== undefined) b.entrypoint = params.entrypoint
      if (params.logs !== undefined) b.logs = params.logs
      if (params.manifest !== undefined) b.manifest = params.manifest
      if (params.release !== undefined) b.release = params.release
      if (started) b.started = started
      if (params.status !== undefined) b.status = params.status
      return buildJson(b)
    }
  }

  if (parts[2] === 'objects' && parts.length >= 4) {
    const key = parts.slice(3).join('/')
    // pkg/api/controllers.go sanitizeObjectKey
    if (key.split('/').includes('..') || key.trim() === '')
      throw new ApiError(400, 'invalid object key')
    if (method === 'POST') {
      // provider/k8s/object.go ObjectStore
      state.objects.set(`${appName}/${key}`, raw ?? Buffer.alloc(0))
      return { Url: `object://${appName}/${key}` }
    }
    if (method === 'GET') {
      const data = state.objects.get(`${appName}/${key}`)
      if (!data) throw new ApiError(404, `object not found: ${key}`)
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
      res.end(data)
      return undefined
    }
  }

  if (parts[2] === 'releases') {
    if (method === 'POST' && parts.length === 3) {
      appOf(appName)
      return releaseJson(releaseCreate(state, appName, params))
    }
    if (method === 'GET' && parts.length === 4) {
      const r = state.releases.get(parts[3]!)
      if (!r || r.app !== appName) throw notFound('releases', parts[3]!)
      return releaseJson(r)
    }
    if (method === 'GET' && parts.length === 3) {
      appOf(appName)
      return state
        .releasesOf(appName)
        .sort((a, b) => b.created.getTime() - a.created.getTime())
        .map(releaseJson)
    }
    if (method === 'POST' && parts.length === 5 && parts[4] === 'promote') {
      const a = appOf(appName)
      // pkg/api/validation.go ReleasePromoteValidate: the app first, then the release
      if (a.status !== 'running' && !bool(params, 'force')) {
        throw new ApiError(403, 'app is currently updating')
      }
      const r = state.releases.get(parts[3]!)
      if (!r || r.app !== appName) throw notFound('releases', parts[3]!)
      // The rollout: `updating` for updatingPolls AppGets, then running on r, or rollback.
      a.pending = { left: a.updatingPolls, release: r.id, previous: a.release }
      a.status = 'updating'
      a.release = r.id
      return 'ok'
    }
  }
  throw new ApiError(404, `not found: ${method} ${pathname}`)
}

function settlePromote(state: RackServer, a: ServerApp): void {
  const p = a.pending
  if (!p) return
  if (p.left > 0) {
    p.left--
    return
  }
  if (a.promoteOutcome === 'rollback') {
    if (a.status === 'updating') {
      // pkg/common/atom.go: Rollback -> "rollback", then Reverted -> "running" on the old release
      a.status = 'rollback'
      a.release = p.previous
      return
    }
    a.status = 'running'
    a.pending = undefined
    return
  }
  a.status = 'running'
  a.pending = undefined
  void state
}

/** provider/k8s/build.go BuildCreate: external builds get the push target, with the password. */
function buildCreate(state: RackServer, app: ServerApp, params: Record<string, string>): unknown {
  if (!bool(params, 'external')) {
    throw new ApiError(501, 'the test rack only makes external builds')
  }
  const b: ServerBuild = {
    id: newId('B'),
    app: app.name,
    description: params.description ?? '',
    entrypoint: '',
    gitSha: params['git-sha'] ?? '',
    logs: '',
    manifest: '',
    process: '',
    release: '',
    reason: '',
    status: 'created',
    started: new Date()
  }
  state.builds.set(b.id, b)
  // https://convox:<password>@api.<domain>/<prefix><app>; here plain http and prefix ''
  return buildJson(
    b,
    `http://convox:${encodeURIComponent(state.password)}@${state.host}/${app.name}`
  )
}

/** provider/k8s/release.go ReleaseCreate: forks the latest release's env, copies the build's manifest. */
function releaseCreate(
  state: RackServer,
  app: string,
  params: Record<string, string>
): ServerRelease {
  const latest = state.releasesOf(app).sort((a, b) => b.created.getTime() - a.created.getTime())[0]
  const r: ServerRelease = {
    id: newId('R'),
    app,
    build: latest?.build ?? '',
    env: latest?.env ?? '',
    manifest: latest?.manifest ?? '',
    description: latest?.description ?? '',
    created: new Date()
  }
  if (params.build !== undefined) r.build = params.build
  if (r.build) {
    const b = state.builds.get(r.build)
    if (!b || b.app !== app) throw notFound('builds', r.build)
    r.description = b.description
    r.manifest = b.manifest
  }
  if (params.env !== undefined) r.env = params.env
  if (params.description !== undefined) r.description = params.description
  state.releases.set(r.id, r)
  return r
}

/**
 * provider/k8s/build.go BuildImport: unpack `*.tar` archives (service = name up to the first dot)
 * and build.json, push each with `skopeo copy oci-archive:<file> docker://<repo>:<svc>.<newId>`
 * (`copy --all` with importAll, as 3.25.3 does) ignoring failures, copy description, logs and manifest, create a release, mark complete.
 */
async function buildImport(
  state: RackServer,
  options: RackServerOptions,
  app: string,
  req: http.IncomingMessage
): Promise<unknown> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'rack-import-'))
  try {
    const started = new Date()
    const images = new Map<string, string>()
    let source: Record<string, string> = {}
    const extract = tar.extract()
    extract.on('entry', (header, stream, next) => {
      const name = header.name
      if (header.type !== 'file') {
        stream.on('end', () => next())
        stream.resume()
        return
      }
      if (name.endsWith('.tar')) {
        // common.SafeExtractPath: no escaping the directory
        const file = path.resolve(tmp, name)
        if (!file.startsWith(tmp + path.sep)) {
          stream.destroy(new Error(`unsafe path in archive: ${name}`))
          return
        }
        const out = createWriteStream(file)
        pipeline(stream, out).then(
          () => {
            images.set(name.split('.')[0]!, file)
            next()
          },
          (e: unknown) => next(e as Error)
        )
        return
      }
      if (name === 'build.json') {
        const chunks: Buffer[] = []
        stream.on('data', (c: unknown) => void chunks.push(c as Buffer))
        stream.on('end', () => {
          try {
            source = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>
            next()
          } catch (e) {
            next(e as Error)
          }
        })
        return
      }
      stream.on('end', () => next())
      stream.resume()
    })
    try {
      await pipeline(req, createGunzip(), extract)
    } catch (e) {
      throw new ApiError(500, e instanceof Error ? e.message : String(e))
    }

    const target: ServerBuild = {
      id: newId('B'),
      app,
      description: source.description ?? '',
      entrypoint: '',
      gitSha: '',
      logs: source.logs ?? '',
      manifest: source.manifest ?? '',
      process: '',
      release: '',
      reason: '',
      status: 'created',
      started
    }
    for (const [svc, file] of images) {
      const dst = `${state.upstreamRepository(app)}:${svc}.${target.id}`
      const reg = options.registry!
      const r = await runSkopeo([
        'copy',
        ...(options.importAll ? ['--all'] : []),
        '--dest-tls-verify=false',
        '--dest-creds',
        `${reg.username}:${reg.password}`,
        `oci-archive:${file}`,
        `docker://${dst}`
      ])
      // the rack builds an error here and drops it
      if (r.code !== 0) state.importFailures.push(`${svc}: ${r.output.trim().split('\n').pop()}`)
    }
    target.ended = new Date()
    state.builds.set(target.id, target)
    const rr = releaseCreate(state, app, { build: target.id })
    target.status = 'complete'
    target.release = rr.id
    return buildJson(target)
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

function runSkopeo(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise(resolve => {
    const child = spawn('skopeo', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (b: Buffer) => (output += b.toString()))
    child.stderr.on('data', (b: Buffer) => (output += b.toString()))
    child.on('error', e => resolve({ code: 127, output: e.message }))
    child.on('close', code => resolve({ code: code ?? 1, output }))
  })
}

/**
 * provider/k8s/registry.go RegistryProxy: `/v2/` answers the API version header; `/v2/<app>/...`
 * (RepositoryPrefix '' here) is reverse-proxied to the app's repository host with the registry's
 * own credentials; an unknown app is a 403 with a registry-style error body.
 */
async function registryProxy(
  state: RackServer,
  options: RackServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL
): Promise<void> {
  const rest = url.pathname.replace(/^\/v2\/?/, '')
  if (rest === '') {
    req.resume()
    res.writeHead(200, { 'Docker-Distribution-Api-Version': 'registry/2.0' })
    res.end()
    return
  }
  const app = rest.split('/')[0] ?? ''
  if (!state.apps.has(app) || !options.registry) {
    req.resume()
    res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(`${JSON.stringify({ errors: [{ message: `app not found: ${app}` }] })}\n`)
    return
  }
  const upstream = options.registry
  const headers: http.OutgoingHttpHeaders = { ...req.headers }
  delete headers.authorization
  delete headers.rack
  headers.host = upstream.host
  headers.authorization = `Basic ${Buffer.from(`${upstream.username}:${upstream.password}`).toString('base64')}`
  const [hostname, port] = upstream.host.split(':')
  await new Promise<void>((resolve, reject) => {
    const out = http.request(
      {
        hostname,
        port: port ? Number(port) : 80,
        method: req.method,
        path: `/v2/${rest}${url.search}`,
        headers
      },
      up => {
        const h = { ...up.headers }
        // upload Locations point at the upstream: send the client back through the proxy
        if (typeof h.location === 'string') {
          h.location = h.location.replace(`http://${upstream.host}`, `http://${state.host}`)
        }
        res.writeHead(up.statusCode ?? 502, h)
        pipeline(up, res).then(resolve, reject)
      }
    )
    out.on('error', reject)
    pipeline(req, out).catch(reject)
  })
}

/** Go's time.Time JSON for a Date, the zero time for none. */
function jsonTime(date: Date | undefined): string {
  return date ? formatGoTime(date) : GO_ZERO_TIME
}
