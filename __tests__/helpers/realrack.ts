// Convox's own rack API ("realrack": pkg/api over provider/local with fake Kubernetes clientsets,
// the harness in scripts/rack) on a free loopback port, against the rig's push registry.
// Its state file lists the builds, releases, objects, promotions and calls it recorded.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, openSync, readFileSync, statSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { REPO_ROOT, type Rig } from './rig.js'

let binary: Promise<string> | undefined

/**
 * The harness binary: scripts/rack/build.sh builds it against Convox's source the first time
 * (minutes; the rig's tools.sh does it ahead) and answers its cached path after.
 */
export function rackBinary(): Promise<string> {
  binary ??= promisify(execFile)('bash', [path.join(REPO_ROOT, 'scripts', 'rack', 'build.sh')], {
    maxBuffer: 16 << 20
  }).then(
    ({ stdout }) => stdout.trim(),
    (e: Error & { stderr?: string }) => {
      binary = undefined
      throw new Error(`scripts/rack/build.sh failed:\n${(e.stderr ?? e.message).slice(-3000)}`)
    }
  )
  return binary
}

export interface RealRackCall {
  method: string
  path: string
  form: Record<string, string>
  status: number
  error?: string
  request_bytes: number
}

/** The state file (main.go recorder.dump): records as the real BuildGet/ReleaseGet read them. */
export interface RealRackState {
  system: Record<string, unknown>
  app: { name: string; release: string; status: string; parameters?: Record<string, string> }
  builds: Record<string, Record<string, string>>
  releases: Record<string, Record<string, string>>
  objects: Record<string, number>
  promotions: { release: string; previous: string; status: string; images: string[] }[]
  calls: RealRackCall[]
}

export interface RealRack {
  /** http(s)://127.0.0.1:<port> */
  url: string
  host: string
  password: string
  app: string
  /** A rack-url with the password. */
  rackUrl: string
  /** The state after every call so far. */
  state(): Promise<RealRackState>
  buildsOf(state: RealRackState, app?: string): Record<string, string>[]
  releasesOf(state: RealRackState, app?: string): Record<string, string>[]
  /** Its output, for failure messages. */
  log(): string
  stop(): Promise<void>
}

export interface RealRackOptions {
  app?: string
  /** Extra flags: -tls, -atom-outcome rollback, -atom-delay 1s, -fail-builds-503 N, ... */
  flags?: string[]
  /** The rack password (default random hex); rackUrl holds it URL-escaped. */
  password?: string
}

/** A loopback port nothing listens on (just now). */
export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as AddressInfo).port
  await new Promise<void>(resolve => srv.close(() => resolve()))
  return port
}

function get(url: string, password: string): Promise<number> {
  return new Promise(resolve => {
    const u = new URL(url)
    const req = (u.protocol === 'https:' ? https : http).request(
      u,
      {
        auth: `convox:${password}`,
        agent: false,
        rejectUnauthorized: false,
        timeout: 2000
      },
      res => {
        res.resume()
        resolve(res.statusCode ?? 0)
      }
    )
    req.on('error', () => resolve(0))
    req.on('timeout', () => req.destroy())
    req.end()
  })
}

/** Starts realrack and waits for /system (minutes when its binary must be built first). */
export async function startRealRack(rig: Rig, options: RealRackOptions = {}): Promise<RealRack> {
  const bin = await rackBinary()
  const app = options.app ?? `app${randomBytes(3).toString('hex')}`
  const password = options.password ?? `rr-${randomBytes(9).toString('hex')}`
  const work = await mkdtemp(path.join(tmpdir(), 'realrack-test-'))
  const stateFile = path.join(work, 'state.json')
  const logFile = path.join(work, 'out.log')
  const flags = options.flags ?? []
  const tls = flags.includes('-tls')

  let child: ChildProcess | undefined
  let port = 0
  for (let tries = 0; tries < 3 && !child; tries++) {
    port = await freePort()
    const out = openSync(logFile, 'a')
    const c = spawn(
      bin,
      [
        '-port',
        String(port),
        '-app',
        app,
        '-registry',
        rig.registry,
        '-registry-user',
        rig.registryUsername,
        '-state',
        stateFile,
        ...flags
      ],
      {
        detached: true,
        stdio: ['ignore', out, out],
        // the passwords by environment, not argv
        env: {
          ...process.env,
          RACK_PASSWORD: password,
          RACK_REGISTRY_PASSWORD: rig.registryPassword
        }
      }
    )
    const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`
    const deadline = Date.now() + 60_000
    let exited = false
    c.on('exit', () => (exited = true))
    while (!exited && Date.now() < deadline) {
      if ((await get(`${url}/system`, password)) === 200) {
        child = c
        break
      }
      await sleep(200)
    }
    if (!child) {
      if (!exited) process.kill(-c.pid!, 'SIGKILL')
      if (Date.now() >= deadline) break
    }
  }
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8')
    } catch {
      return ''
    }
  }
  if (!child) {
    await rm(work, { recursive: true, force: true })
    throw new Error(`realrack did not answer on /system:\n${log().slice(-3000)}`)
  }
  const proc = child
  const host = `127.0.0.1:${port}`
  const url = `${tls ? 'https' : 'http'}://${host}`
  const byApp = <T extends Record<string, string>>(records: Record<string, T>, a: string): T[] =>
    Object.values(records).filter(r => r.app === a)

  return {
    url,
    host,
    password,
    app,
    rackUrl: `${tls ? 'https' : 'http'}://convox:${encodeURIComponent(password)}@${host}`,
    async state() {
      // SIGUSR1: a fresh dump after everything answered so far (main.go)
      const before = existsSync(stateFile) ? statSync(stateFile).mtimeMs : 0
      process.kill(proc.pid!, 'SIGUSR1')
      for (let i = 0; i < 100; i++) {
        if (existsSync(stateFile) && statSync(stateFile).mtimeMs !== before) break
        await sleep(30)
      }
      return JSON.parse(await readFile(stateFile, 'utf8')) as RealRackState
    },
    buildsOf: (state, a = app) => byApp(state.builds, a),
    releasesOf: (state, a = app) => byApp(state.releases, a),
    log,
    async stop() {
      const gone = new Promise<void>(resolve => {
        if (proc.exitCode !== null || proc.signalCode !== null) resolve()
        else proc.once('exit', () => resolve())
      })
      try {
        process.kill(-proc.pid!, 'SIGTERM')
      } catch {
        // already gone
      }
      const killed = await Promise.race([gone.then(() => true), sleep(10_000).then(() => false)])
      if (!killed) {
        try {
          process.kill(-proc.pid!, 'SIGKILL')
        } catch {
          // already gone
        }
        await gone
      }
      await rm(work, { recursive: true, force: true })
    }
  }
}
