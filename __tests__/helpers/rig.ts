// The test rig (`npm run rig:up`): typed access to .rig/env and small helpers for rig tests.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnExec, type ExecOptions, type ExecResult } from '../../src/core/exec.js'

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const DEFAULT_RIG_ENV = join(REPO_ROOT, '.rig', 'env')
export const RIG_NOT_RUNNING = 'the test rig is not running: start it with `npm run rig:up`'

export interface Rig {
  /** host:port of the push registry (plain HTTP on loopback, htpasswd auth). */
  registry: string
  registryUsername: string
  registryPassword: string
  /** host:port of the Docker Hub stand-in (BuildKit's mirror for docker.io; pulls need a login). */
  hubRegistry: string
  hubUsername: string
  hubPassword: string
  /** unix:// address of buildkitd. */
  buildkitHost: string
  /** Name of the buildx builder (remote driver) on that buildkitd, kept in buildxConfig. */
  buildxBuilder: string
  buildxConfig: string
  /** Directory holding buildctl, buildkitd, buildx and act. */
  rigBin: string
  /** Set only when the rig runs a docker engine (RIG_DOCKER=1). */
  dockerHost?: string
}

const KEYS = {
  registry: 'REGISTRY',
  registryUsername: 'REGISTRY_USERNAME',
  registryPassword: 'REGISTRY_PASSWORD',
  hubRegistry: 'HUB_REGISTRY',
  hubUsername: 'HUB_USERNAME',
  hubPassword: 'HUB_PASSWORD',
  buildkitHost: 'BUILDKIT_HOST',
  buildxBuilder: 'BUILDX_BUILDER',
  buildxConfig: 'BUILDX_CONFIG',
  rigBin: 'RIG_BIN'
} as const

/** Parses shell `KEY=value` lines (values are written unquoted by scripts/rig/up.sh). */
export function parseEnvFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim())
    if (m?.[1] !== undefined && m[2] !== undefined) vars[m[1]] = m[2]
  }
  return vars
}

const checked = new Map<string, Rig>()

/**
 * Reads the rig's env file and checks quickly that buildkitd and both registries answer.
 * Throws `Error(RIG_NOT_RUNNING)` (with the reason as `cause`) otherwise.
 */
export function loadRig(path: string = DEFAULT_RIG_ENV): Rig {
  const known = checked.get(path)
  if (known) return known
  const fail = (why: string): never => {
    throw new Error(RIG_NOT_RUNNING, { cause: new Error(why) })
  }
  if (!existsSync(path)) fail(`${path} does not exist`)
  const vars = parseEnvFile(readFileSync(path, 'utf8'))
  const rig = {} as Rig
  for (const [field, key] of Object.entries(KEYS) as [keyof typeof KEYS, string][]) {
    const value = vars[key]
    if (!value) fail(`${path} has no ${key}`)
    rig[field] = value as string
  }
  if (vars.DOCKER_HOST) rig.dockerHost = vars.DOCKER_HOST

  const workers = spawnSync(
    join(rig.rigBin, 'buildctl'),
    ['--addr', rig.buildkitHost, 'debug', 'workers'],
    { encoding: 'utf8', timeout: 10000 }
  )
  if (workers.status !== 0) fail(`buildkitd does not answer at ${rig.buildkitHost}`)
  for (const host of [rig.registry, rig.hubRegistry]) {
    const code = spawnSync(
      'curl',
      ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', `http://${host}/v2/`],
      { encoding: 'utf8', timeout: 10000 }
    ).stdout
    if (code !== '401' && code !== '200') fail(`the registry at ${host} does not answer`)
  }
  checked.set(path, rig)
  return rig
}

/** process.env plus the rig: RIG_BIN first on PATH, BUILDKIT_HOST and BUILDX_CONFIG set. */
export function rigEnv(rig: Rig = loadRig(), extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: [rig.rigBin, process.env.PATH ?? ''].join(delimiter),
    BUILDKIT_HOST: rig.buildkitHost,
    BUILDX_CONFIG: rig.buildxConfig,
    ...(rig.dockerHost ? { DOCKER_HOST: rig.dockerHost } : {}),
    ...extra
  }
}

export interface RunOptions extends Omit<ExecOptions, 'env'> {
  rig?: Rig
  /** DOCKER_CONFIG for the child: where buildctl, buildx and skopeo find registry logins. */
  dockerConfig?: string
  env?: NodeJS.ProcessEnv
}

/** Runs a program with rigEnv(); never throws for a non-zero exit. */
export function run(
  command: string,
  args: string[],
  options: RunOptions = {}
): Promise<ExecResult> {
  const { rig = loadRig(), dockerConfig, env = {}, ...rest } = options
  const extra = dockerConfig ? { ...env, DOCKER_CONFIG: dockerConfig } : env
  return spawnExec(command, args, { ...rest, env: rigEnv(rig, extra) })
}

/** buildctl against the rig's buildkitd. */
export function buildctl(args: string[], options: RunOptions = {}): Promise<ExecResult> {
  const rig = options.rig ?? loadRig()
  return run(join(rig.rigBin, 'buildctl'), ['--addr', rig.buildkitHost, ...args], {
    ...options,
    rig
  })
}

/** skopeo; pass `--tls-verify=false` and `--creds` (see registryCreds) for the rig's registries. */
export function skopeo(args: string[], options: RunOptions = {}): Promise<ExecResult> {
  return run('skopeo', args, options)
}

/** `user:password` of the push registry (or of the hub stand-in), for skopeo --creds. */
export function registryCreds(rig: Rig = loadRig(), which: 'push' | 'hub' = 'push'): string {
  return which === 'hub'
    ? `${rig.hubUsername}:${rig.hubPassword}`
    : `${rig.registryUsername}:${rig.registryPassword}`
}

/** `<REGISTRY>/<prefix>-<random>`: a repository no other test uses. */
export function uniqueRepo(prefix: string, rig: Rig = loadRig()): string {
  return `${rig.registry}/${prefix}-${randomBytes(5).toString('hex')}`
}

export interface Login {
  username: string
  password: string
}

/** Makes a private docker config dir (config.json with `auths`) and returns its path. */
export async function makeDockerConfig(auths: Record<string, Login> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'convox-build-docker-config-'))
  const entries = Object.fromEntries(
    Object.entries(auths).map(([host, { username, password }]) => [
      host,
      { auth: Buffer.from(`${username}:${password}`).toString('base64') }
    ])
  )
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: entries }, null, 2), {
    mode: 0o600
  })
  return dir
}

/** The rig's logins: the push registry, and the hub stand-in unless `hub: false`. */
export function rigLogins(rig: Rig = loadRig(), { hub = true } = {}): Record<string, Login> {
  const logins: Record<string, Login> = {
    [rig.registry]: { username: rig.registryUsername, password: rig.registryPassword }
  }
  if (hub) logins[rig.hubRegistry] = { username: rig.hubUsername, password: rig.hubPassword }
  return logins
}

/** The bundled CLI (dist/cli.js), what users run. */
export const CLI = join(REPO_ROOT, 'dist', 'cli.js')

/** CLI flags of a build on the rig: buildctl on its daemon, the Docker Hub stand-in's login. */
export function rigCliFlags(rig: Rig = loadRig()): string[] {
  return [
    '--engine',
    'buildctl',
    '--buildkit-host',
    rig.buildkitHost,
    '--docker-hub-registry',
    rig.hubRegistry,
    '--docker-hub-username',
    rig.hubUsername
  ]
}

/** rigEnv() with the Docker Hub stand-in's password where the CLI reads it, and `extra`. */
export function rigCliEnv(rig: Rig = loadRig(), extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return rigEnv(rig, { CONVOX_BUILD_DOCKER_HUB_PASSWORD: rig.hubPassword, ...extra })
}
