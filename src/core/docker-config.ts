// A docker config directory private to this run: logins for BuildKit clients (buildx, buildctl)
// without touching the runner's own ~/.docker/config.json (which may hold its own tokens).
import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import path from 'node:path'
import type { Logger } from './log.js'
import { DOCKER_HUB, isDockerHubHost, looksLikeRegistryHost } from './registry/reference.js'
import type { Settings } from './settings.js'

export interface RegistryLogin {
  /** Registry host as it appears in image refs (`ghcr.io`, `127.0.0.1:5050`), or the auths key. */
  host: string
  username: string
  password: string
}

export interface PrivateDockerConfig {
  dir: string
  /** Variables to add to the environment of docker / buildctl children. */
  env: Record<string, string>
  cleanup(): Promise<void>
}

/** The auths key Docker uses for Docker Hub. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/'

/** Host part of an image reference or repository (`docker.io` when it has none). */
export function registryHost(ref: string): string {
  const first = ref.split('/')[0] ?? ''
  return ref.includes('/') && looksLikeRegistryHost(first) ? first : DOCKER_HUB
}

/** The auths key for the Docker Hub login: Docker Hub's own key, or the mirror's host. */
export function dockerHubAuthKey(dockerHubRegistry: string): string {
  const host = dockerHubRegistry.replace(/^https?:\/\//, '').replace(/\/.*$/, '')
  return host === '' || isDockerHubHost(host) ? DOCKER_HUB_AUTH_KEY : host
}

export type LoginSettings = Pick<
  Settings,
  | 'registry'
  | 'registryUsername'
  | 'registryPassword'
  | 'dockerHubUsername'
  | 'dockerHubPassword'
  | 'dockerHubRegistry'
>

/** The logins a run needs: the push registry and Docker Hub (or its mirror), when given. */
export function loginsFromSettings(s: LoginSettings): RegistryLogin[] {
  const logins: RegistryLogin[] = []
  if (s.registry && s.registryUsername) {
    logins.push({
      host:
        registryHost(s.registry) === 'docker.io' ? DOCKER_HUB_AUTH_KEY : registryHost(s.registry),
      username: s.registryUsername,
      password: s.registryPassword
    })
  }
  if (s.dockerHubUsername) {
    const host = dockerHubAuthKey(s.dockerHubRegistry)
    // The same host twice: the push registry's login wins (it must be able to push).
    if (!logins.some(l => l.host === host)) {
      logins.push({ host, username: s.dockerHubUsername, password: s.dockerHubPassword })
    }
  }
  return logins
}

/** The user's docker config directory ($DOCKER_CONFIG or ~/.docker). */
export function userDockerConfigDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CONFIG || path.join(env.HOME || homedir(), '.docker')
}

export interface DockerConfigJson {
  auths: Record<string, { auth: string }>
  cliPluginsExtraDirs: string[]
  currentContext?: string
}

/** The config.json content (pure, for tests). */
export function dockerConfigJson(
  logins: RegistryLogin[],
  env: NodeJS.ProcessEnv
): DockerConfigJson {
  const userDir = userDockerConfigDir(env)
  const auths: DockerConfigJson['auths'] = {}
  for (const l of logins) {
    auths[l.host] = { auth: Buffer.from(`${l.username}:${l.password}`).toString('base64') }
  }
  const user = readUserConfig(userDir)
  const config: DockerConfigJson = {
    auths,
    // Keeps the user's own plugins (buildx installed per user, or where their config says, as
    // Homebrew's) visible to `docker`.
    cliPluginsExtraDirs: [...new Set([path.join(userDir, 'cli-plugins'), ...user.pluginDirs])]
  }
  if (user.currentContext) config.currentContext = user.currentContext
  return config
}

/** What of the user's config.json the private one keeps (never their credentials). */
function readUserConfig(userDir: string): { currentContext?: string; pluginDirs: string[] } {
  try {
    const raw = JSON.parse(readFileSync(path.join(userDir, 'config.json'), 'utf8')) as {
      currentContext?: unknown
      cliPluginsExtraDirs?: unknown
    }
    const dirs = Array.isArray(raw.cliPluginsExtraDirs) ? raw.cliPluginsExtraDirs : []
    return {
      currentContext: typeof raw.currentContext === 'string' ? raw.currentContext : undefined,
      pluginDirs: dirs.filter((d): d is string => typeof d === 'string' && d !== '')
    }
  } catch {
    return { pluginDirs: [] }
  }
}

/**
 * Writes config.json (mode 0600 in a 0700 directory under tempDir) and returns the child env:
 * DOCKER_CONFIG to it, BUILDX_CONFIG to the user's buildx state so their builders stay visible.
 */
export async function createDockerConfig(
  logins: RegistryLogin[],
  run: { tempDir: string; env: NodeJS.ProcessEnv; logger: Logger }
): Promise<PrivateDockerConfig> {
  for (const l of logins) {
    run.logger.mask(l.password)
    run.logger.mask(Buffer.from(`${l.username}:${l.password}`).toString('base64'))
  }
  await mkdir(run.tempDir, { recursive: true })
  const dir = await mkdtemp(path.join(run.tempDir, 'docker-config-'))
  await chmod(dir, 0o700)
  const userDir = userDockerConfigDir(run.env)
  const config = dockerConfigJson(logins, run.env)
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n', {
    mode: 0o600
  })
  // Docker contexts live beside config.json: link them so `currentContext` still resolves.
  const contexts = path.join(userDir, 'contexts')
  if (existsSync(contexts)) await symlink(contexts, path.join(dir, 'contexts'))
  const env: Record<string, string> = {
    DOCKER_CONFIG: dir,
    BUILDX_CONFIG: run.env.BUILDX_CONFIG || path.join(userDir, 'buildx')
  }
  return {
    dir,
    env,
    cleanup: () => rm(dir, { recursive: true, force: true })
  }
}
