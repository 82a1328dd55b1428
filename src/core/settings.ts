import { availableParallelism } from 'node:os'
import path from 'node:path'
import { UserError, type Problem } from './errors.js'

export const CACHE_MODES = ['auto', 'registry', 'gha', 'local', 'inline', 'none'] as const
export type CacheMode = (typeof CACHE_MODES)[number]
export const ENGINES = ['auto', 'buildx', 'buildctl'] as const
export type EngineName = (typeof ENGINES)[number]

/** A BuildKit secret (`--secret id=...`): masked, never a build arg. */
export interface BuildSecret {
  id: string
  value: string
}

/** Every setting of the action / CLI, typed and validated. Names follow action-interface.md. */
export interface Settings {
  app: string
  rack: string
  /** Manifest path relative to workingDirectory, as given (BUILD_MANIFEST). */
  manifest: string
  /** Absolute path of the source root. */
  workingDirectory: string
  /** Raw `build-args` lines, in order (parsed with line numbers by build-args.ts). */
  buildArgs: string[]
  secrets: BuildSecret[]
  /** Empty: computed from the commit (`build <sha10> <subject>`). */
  description: string
  development: boolean
  noCache: boolean
  /** Push repository without tag, e.g. `ghcr.io/acme/myapp`; empty when not set. */
  registry: string
  registryUsername: string
  registryPassword: string
  dockerHubUsername: string
  dockerHubPassword: string
  dockerHubRegistry: string
  push: boolean
  cache: CacheMode
  engine: EngineName
  builder: string
  buildkitHost: string
  platforms: string[]
  concurrency: number
  /** Absolute path of the export tarball to write; empty: none. */
  export: string
  uploadArtifact: string
  rackUrl: string
  convoxHost: string
  convoxPassword: string
  /** Absolute path of a tarball to import instead of building; empty: build. */
  import: string
  promote: boolean
  dryRun: boolean
  summary: boolean
}

/** Raw value of an input by its action name (`build-args`); '' when not given. */
export type InputReader = (name: string) => string

export interface SettingsEnvironment {
  env: NodeJS.ProcessEnv
  /** Where relative paths start (the runner's workspace / the CLI's cwd). */
  cwd: string
}

/** Parses and validates all inputs, reporting every bad input at once. */
export function readSettings(read: InputReader, environment: SettingsEnvironment): Settings {
  const { env, cwd } = environment
  const problems: Problem[] = []
  const str = (name: string, fallback = ''): string => {
    const v = read(name).trim()
    return v === '' ? fallback : v
  }
  const bool = (name: string, fallback: boolean): boolean => {
    const v = str(name).toLowerCase()
    if (v === '') return fallback
    if (['true', 'yes', '1', 'on'].includes(v)) return true
    if (['false', 'no', '0', 'off'].includes(v)) return false
    problems.push({ input: name, message: `must be true or false, got "${read(name).trim()}"` })
    return fallback
  }
  const choice = <T extends string>(name: string, options: readonly T[]): T => {
    const v = str(name, options[0]).toLowerCase()
    if ((options as readonly string[]).includes(v)) return v as T
    problems.push({ input: name, message: `must be one of ${options.join(', ')}; got "${v}"` })
    return options[0] as T
  }
  // Line numbers are kept (blank lines stay as ''); values after `=` stay verbatim, so only
  // leading indentation is removed.
  const lines = (name: string): string[] =>
    read(name)
      .split(/\r?\n/)
      .map(l => (l.trim() === '' ? '' : l.replace(/^\s+/, '')))

  const workingDirectory = path.resolve(cwd, str('working-directory', '.'))
  const registry = str('registry').replace(/\/+$/, '')
  if (registry && /[:@]\S*$/.test(registry.split('/').slice(1).join('/'))) {
    problems.push({
      input: 'registry',
      message: `must be a repository without tag or digest (images are <registry>:<service>.<BUILD_ID>), got "${registry}"`
    })
  }

  const secrets: BuildSecret[] = []
  lines('secrets').forEach((l, i) => {
    if (l === '') return
    const eq = l.indexOf('=')
    const id = eq < 0 ? '' : l.slice(0, eq).trim()
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) {
      problems.push({ input: 'secrets', line: i + 1, message: 'each line must be id=value' })
      return
    }
    secrets.push({ id, value: l.slice(eq + 1) })
  })

  const concurrencyRaw = str('concurrency')
  let concurrency = availableParallelism()
  if (concurrencyRaw !== '') {
    concurrency = Number(concurrencyRaw)
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      problems.push({
        input: 'concurrency',
        message: `must be a whole number >= 1, got "${concurrencyRaw}"`
      })
      concurrency = 1
    }
  }

  const platforms = str('platforms')
    .split(',')
    .map(p => p.trim())
    .filter(Boolean)
  const absolute = (name: string): string => {
    const v = str(name)
    return v === '' ? '' : path.resolve(workingDirectory, v)
  }

  const settings: Settings = {
    app: str('app', defaultApp(env, workingDirectory)),
    rack: str('rack'),
    manifest: str('manifest', 'convox.yml'),
    workingDirectory,
    buildArgs: lines('build-args'),
    secrets,
    description: str('description'),
    development: bool('development', false),
    noCache: bool('no-cache', false),
    registry,
    registryUsername: str('registry-username'),
    registryPassword: read('registry-password'),
    dockerHubUsername: str('docker-hub-username'),
    dockerHubPassword: read('docker-hub-password'),
    dockerHubRegistry: str('docker-hub-registry', 'docker.io'),
    push: bool('push', registry !== ''),
    cache: choice('cache', CACHE_MODES),
    engine: choice('engine', ENGINES),
    builder: str('builder'),
    buildkitHost: str('buildkit-host', env.BUILDKIT_HOST ?? ''),
    platforms,
    concurrency,
    export: absolute('export'),
    uploadArtifact: str('upload-artifact'),
    rackUrl: str('rack-url', env.RACK_URL ?? ''),
    convoxHost: str('convox-host', 'console.convox.com'),
    convoxPassword: read('convox-password'),
    import: absolute('import'),
    promote: bool('promote', false),
    dryRun: bool('dry-run', false),
    summary: bool('summary', true)
  }

  if (!/^[a-z0-9][a-z0-9-]*$/.test(settings.app)) {
    problems.push({
      input: 'app',
      message: `"${settings.app}" is not a Convox app name (lowercase letters, digits and dashes)`
    })
  }
  if (settings.push && !settings.registry) {
    problems.push({ input: 'push', message: 'pushing needs a registry: set the "registry" input' })
  }
  if (Boolean(settings.registryUsername) !== Boolean(settings.registryPassword)) {
    problems.push({
      input: settings.registryUsername ? 'registry-password' : 'registry-username',
      message: 'registry-username and registry-password go together'
    })
  }
  if (Boolean(settings.dockerHubUsername) !== Boolean(settings.dockerHubPassword)) {
    problems.push({
      input: settings.dockerHubUsername ? 'docker-hub-password' : 'docker-hub-username',
      message: 'docker-hub-username and docker-hub-password go together'
    })
  }
  if (settings.uploadArtifact && !settings.export) {
    problems.push({ input: 'upload-artifact', message: 'needs "export", the tarball to upload' })
  }
  if (settings.import && settings.export) {
    problems.push({ input: 'import', message: 'import and export cannot be used together' })
  }
  if (settings.import && settings.dryRun) {
    problems.push({ input: 'dry-run', message: 'an import has nothing to plan: drop dry-run' })
  }
  if (problems.length > 0) throw new UserError(problems)
  return settings
}

/** The repository's name on GitHub, else the source directory's name, as an app name. */
function defaultApp(env: NodeJS.ProcessEnv, workingDirectory: string): string {
  const repo = env.GITHUB_REPOSITORY?.split('/')[1] ?? path.basename(workingDirectory)
  return repo
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
}

/** Every secret value of the settings, for masking. */
export function settingsSecrets(s: Settings): string[] {
  const values = [
    s.registryPassword,
    s.dockerHubPassword,
    s.convoxPassword,
    ...s.secrets.map(x => x.value)
  ]
  try {
    if (s.rackUrl) values.push(decodeURIComponent(new URL(s.rackUrl).password))
  } catch {
    // an unparsable rack-url is reported by the rack client
  }
  return values.filter(v => v.length > 0)
}
