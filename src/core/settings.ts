import path from 'node:path'
import { UserError, type Problem } from './errors.js'
import { BUILD_ID_PATTERN } from './ids.js'
import { normalisePlatforms } from './platform-choice.js'
import {
  DOCKER_HUB,
  DOMAIN,
  PATH_COMPONENT,
  isDockerHubHost,
  looksLikeRegistryHost
} from './registry/reference.js'
import {
  BUILD_CHECK_MODES,
  CACHE_MODES,
  CACHE_TAG_MODES,
  ENGINES,
  ENV_DROP_GUARDS,
  SIGN_MODES,
  LEG_SPLITS,
  OCI_REFERRERS_MODES,
  STAGES,
  inputRow,
  type InputName,
  type InputType
} from './inputs.js'
import { urlPassword, type Redactor } from './secrets.js'

export {
  BUILD_CHECK_MODES,
  CACHE_MODES,
  CACHE_TAG_MODES,
  ENGINES,
  ENV_DROP_GUARDS,
  LEG_SPLITS,
  STAGES
}
export type CacheMode = (typeof CACHE_MODES)[number]
export type EngineName = (typeof ENGINES)[number]
export type Stage = (typeof STAGES)[number]
export type CacheTagMode = (typeof CACHE_TAG_MODES)[number]
export type EnvDropGuard = (typeof ENV_DROP_GUARDS)[number]
export type SignMode = (typeof SIGN_MODES)[number]
export type OciReferrersMode = (typeof OCI_REFERRERS_MODES)[number]
export type LegSplit = (typeof LEG_SPLITS)[number]
export type BuildCheckMode = (typeof BUILD_CHECK_MODES)[number]

/** A BuildKit secret (`--secret id=...`): masked, never a build arg. */
export interface BuildSecret {
  id: string
  value: string
}

/** buildctl's mutual TLS with buildkit-host: each PEM text or a file path; '' when not given. */
export interface BuildkitTlsSettings {
  ca: string
  cert: string
  key: string
  serverName: string
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
  /** BuildKit's Dockerfile checks: warnings at their line, a failed build, or skipped. */
  buildChecks: BuildCheckMode
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
  /** buildctl's mutual TLS: PEM text or file paths (secret), and the server name. */
  buildkitTls: BuildkitTlsSettings
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
  /** On pull-request events: build into the review app <app>-pr-<number>. */
  review: boolean
  /** `KEY=VALUE` lines set over the app's env in the review app (values secret). */
  reviewEnv: string[]
  /** Token for the review app's pull-request comment (the action's shell only). */
  githubToken: string
  /** Token for the review app's merge request note (the CLI on GitLab). */
  gitlabToken: string
  dryRun: boolean
  summary: boolean
  /** Reuse the image of an unchanged build (same content key) instead of building it. */
  reuse: boolean
  stage: Stage
  /** With stage `build`: the services to build, as given (checked against the plan). */
  services: string[]
  /**
   * With stage `build`: leg `index` (1-based) of `total`, the services of that entry of the
   * matrix made with max-legs `total` (for CIs whose parallel jobs know only their number).
   */
  leg?: { index: number; total: number }
  /** With stage `build` / `finish`: the build id `start` returned; '' otherwise. */
  buildId: string
  /** Most entries of the `matrix` output (builds are grouped to fit); 0: one per build. */
  maxLegs: number
  /** What the legs split: services, or builds and platforms (joined into an index by finish). */
  legs: LegSplit
  /** With legs `platforms`: the runner of each platform's matrix entries (normalised platform). */
  platformRunners: Record<string, string>
  /** Keep the rack's behaviour: BUILD_AUTH may reach the final image's history (warns). */
  buildAuthInImage: boolean
  /** Absolute path of a PEM bundle to verify the rack's certificate with; '' for the system's. */
  rackCa: string
  /** Skip verifying the rack's certificate (as Convox's CLI does); warns on every run. */
  rackInsecure: boolean
  cacheTags: CacheTagMode
  envDropGuard: EnvDropGuard
  /** ARGs the build consumes take values from the app's env on the rack (as the rack does). */
  appEnvArgs: boolean
  /** The commit built (BUILD_GIT_SHA), overriding what the CI context says; '' to detect it. */
  gitSha: string
  /** Ref globs (`release/*`, `refs/tags/v*`) whose runs are protected, besides the default branch and tags. */
  trustedRefs: string[]
  /** Build a fork's code with credentials in pull_request_target / workflow_run (src/core/trust.ts). */
  allowForkCode: boolean
  sign: SignMode
  /** PEM private key (`sign: key`); '' when none. */
  signingKey: string
  signingKeyPassword: string
  /** PEM public keys and `identity:` globs trusted for reuse, or `any`; '' for none. */
  reuseTrust: string
  /** The Sigstore instance of `sign: keyless` (rekor '' : none, tsa '' : none). */
  sigstore: { fulcioUrl: string; rekorUrl: string; tsaUrl: string; trustedRoot: string }
  /** Where a provenance's Sigstore bundle is attached as an OCI referrer. */
  ociReferrers: OciReferrersMode
  /** Also store each provenance as the CI's own attestation (GitHub's, from the action). */
  githubAttestation: boolean
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
  const value = (name: InputName, type: InputType): string => inputValue(read, env, name, type)
  const str = (name: InputName): string => value(name, 'string')
  const bool = (name: InputName, fallback = false): boolean => {
    const v = value(name, 'boolean').toLowerCase()
    if (v === '') return fallback
    if (['true', 'yes', '1', 'on'].includes(v)) return true
    if (['false', 'no', '0', 'off'].includes(v)) return false
    problems.push({ input: name, message: `must be true or false, got "${read(name).trim()}"` })
    return fallback
  }
  const choice = <T extends string>(name: InputName): T => {
    const options = inputRow(name).options ?? []
    const v = value(name, 'choice').toLowerCase()
    if (options.includes(v)) return v as T
    problems.push({ input: name, message: `must be one of ${options.join(', ')}; got "${v}"` })
    return options[0] as T
  }
  const wholeNumber = (name: InputName): number | undefined => {
    const raw = value(name, 'number')
    if (raw === '') return undefined
    const n = Number(raw)
    const min = inputRow(name).min ?? 0
    if (Number.isInteger(n) && n >= min) return n
    problems.push({ input: name, message: `must be a whole number >= ${min}, got "${raw}"` })
    return undefined
  }
  // Line numbers are kept (blank lines stay as ''); values after `=` stay verbatim, so only
  // leading indentation is removed.
  const lines = (name: InputName): string[] =>
    value(name, 'lines')
      .split(/\r?\n/)
      .map(l => (l.trim() === '' ? '' : l.replace(/^\s+/, '')))
  const list = (name: InputName): string[] =>
    value(name, 'list')
      .split(/[\s,]+/)
      .filter(Boolean)

  const workingDirectory = path.resolve(cwd, value('working-directory', 'path'))
  const registry = normalise('registry', normaliseRepository, problems, str('registry'))
  const dockerHubRegistry = normalise(
    'docker-hub-registry',
    normaliseHubRegistry,
    problems,
    str('docker-hub-registry')
  )
  const secrets = buildSecrets(lines('secrets'), problems)
  // No cap by default: BuildKit schedules the steps of every build itself, and a cap only delays
  // builds that would have run beside the others (see the README's benchmarks).
  const concurrency = wholeNumber('concurrency') ?? Number.POSITIVE_INFINITY

  let platforms: string[] = []
  try {
    platforms = normalisePlatforms(str('platforms').split(','))
  } catch (e) {
    if (!(e instanceof UserError)) throw e
    problems.push(...e.problems)
  }
  const absolute = (name: InputName): string => {
    const v = value(name, 'path')
    return v === '' ? '' : path.resolve(workingDirectory, v)
  }

  const settings: Settings = {
    // Convox's own names (CONVOX_APP, CONVOX_RACK...), as its CLI and convox/action-login set
    // them, under the inputs: the table's env fallbacks.
    app: str('app') || defaultApp(env, workingDirectory),
    rack: str('rack'),
    manifest: str('manifest'),
    workingDirectory,
    buildArgs: lines('build-args'),
    secrets,
    description: str('description'),
    development: bool('development'),
    noCache: bool('no-cache'),
    buildChecks: choice<BuildCheckMode>('build-checks'),
    registry,
    registryUsername: str('registry-username'),
    registryPassword: str('registry-password'),
    dockerHubUsername: str('docker-hub-username'),
    dockerHubPassword: str('docker-hub-password'),
    dockerHubRegistry,
    push: bool('push', registry !== ''),
    cache: choice<CacheMode>('cache'),
    engine: choice<EngineName>('engine'),
    builder: str('builder'),
    buildkitHost: str('buildkit-host'),
    buildkitTls: {
      ca: str('buildkit-tls-ca'),
      cert: str('buildkit-tls-cert'),
      key: str('buildkit-tls-key'),
      serverName: str('buildkit-tls-server-name')
    },
    platforms,
    concurrency,
    export: absolute('export'),
    uploadArtifact: str('upload-artifact'),
    rackUrl: str('rack-url'),
    // Console mode as in the CLI (pkg/rack/console.go currentConsole, currentPassword); RACK_URL,
    // a direct rack, wins over it there too (pkg/rack/rack.go Current) and in rackClientOptions.
    convoxHost: str('convox-host'),
    convoxPassword: str('convox-password'),
    import: absolute('import'),
    promote: bool('promote'),
    review: bool('review'),
    reviewEnv: lines('review-env'),
    githubToken: str('github-token'),
    gitlabToken: str('gitlab-token'),
    dryRun: bool('dry-run'),
    summary: bool('summary'),
    reuse: bool('reuse'),
    stage: choice<Stage>('stage'),
    leg: legOf(str('leg'), problems),
    services: list('services'),
    buildId: str('build-id'),
    maxLegs: wholeNumber('max-legs') ?? 0,
    legs: choice<LegSplit>('legs'),
    platformRunners: platformRunners(lines('platform-runners'), problems),
    buildAuthInImage: bool('build-auth-in-image'),
    rackCa: absolute('rack-ca'),
    rackInsecure: bool('rack-insecure'),
    cacheTags: choice<CacheTagMode>('cache-tags'),
    envDropGuard: choice<EnvDropGuard>('env-drop-guard'),
    gitSha: str('git-sha'),
    trustedRefs: list('trusted-refs'),
    allowForkCode: bool('allow-fork-code'),
    appEnvArgs: bool('app-env-args'),
    sign: choice<SignMode>('sign'),
    signingKey: str('signing-key'),
    signingKeyPassword: str('signing-key-password'),
    reuseTrust: str('reuse-trust'),
    sigstore: {
      fulcioUrl: str('sigstore-fulcio-url'),
      rekorUrl: /^none$/i.test(str('sigstore-rekor-url')) ? '' : str('sigstore-rekor-url'),
      tsaUrl: str('sigstore-tsa-url'),
      trustedRoot: absolute('sigstore-trusted-root')
    },
    ociReferrers: choice<OciReferrersMode>('oci-referrers'),
    githubAttestation: bool('github-attestation')
  }

  if (!/^[a-z0-9][a-z0-9-]*$/.test(settings.app)) {
    problems.push({
      input: 'app',
      message: `"${settings.app}" is not a Convox app name (lowercase letters, digits and dashes)`
    })
  }
  if (
    settings.registry.startsWith(`${DOCKER_HUB}/`) &&
    settings.dockerHubRegistry !== DOCKER_HUB &&
    settings.dockerHubRegistry !== ''
  ) {
    problems.push({
      input: 'docker-hub-registry',
      message: `a mirror of Docker Hub while registry is on Docker Hub (${settings.registry}) would get its pushes and its password: drop docker-hub-registry, or push elsewhere`
    })
  }
  if (settings.push && !settings.registry) {
    problems.push({ input: 'push', message: 'pushing needs a registry: set the "registry" input' })
  }
  if (settings.sign === 'key' && !settings.signingKey.trim()) {
    problems.push({ input: 'sign', message: 'sign: key needs the signing-key input' })
  }
  const keylessPossible = settings.sign === 'keyless' || settings.sign === 'auto'
  if (keylessPossible && !settings.sigstore.rekorUrl && !settings.sigstore.tsaUrl) {
    problems.push({
      input: 'sigstore-rekor-url',
      message:
        'sigstore-rekor-url: none needs sigstore-tsa-url (a keyless signature is logged or timestamped)'
    })
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
  const tls = settings.buildkitTls
  if (Boolean(tls.cert) !== Boolean(tls.key)) {
    problems.push({
      input: tls.cert ? 'buildkit-tls-key' : 'buildkit-tls-cert',
      message: 'buildkit-tls-cert and buildkit-tls-key go together'
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
  problems.push(...stageProblems(settings, str('leg') !== ''))
  if (problems.length > 0) throw new UserError(problems)
  return settings
}

/** Stage inputs that do not fit together. */
function stageProblems(s: Settings, legGiven: boolean): Problem[] {
  const problems: Problem[] = []
  const { stage } = s
  if (s.buildId && !BUILD_ID_PATTERN.test(s.buildId)) {
    problems.push({
      input: 'build-id',
      message: `"${s.buildId}" is not a Convox build id (B and 10 capital letters)`
    })
  }
  if (stage === 'all' || stage === 'start') {
    if (s.buildId) {
      problems.push({
        input: 'build-id',
        message: `is for stage build or finish (the ${stage} stage makes the build id)`
      })
    }
  } else if (!s.buildId) {
    problems.push({
      input: 'build-id',
      message: `stage ${stage} needs the build id start returned`
    })
  }
  if (stage === 'build' && s.services.length === 0 && !legGiven) {
    problems.push({
      input: 'services',
      message: 'stage build needs the services to build (or leg, as N/M)'
    })
  }
  if (s.services.length > 0 && s.leg) {
    problems.push({ input: 'leg', message: 'give services or leg, not both' })
  }
  if (stage !== 'build' && s.services.length > 0) {
    problems.push({ input: 'services', message: 'is for stage build only' })
  }
  if (stage !== 'build' && s.leg) {
    problems.push({ input: 'leg', message: 'is for stage build only' })
  }
  problems.push(...platformLegProblems(s))
  if (stage !== 'all' && s.import) {
    problems.push({ input: 'stage', message: 'an import runs in one stage: drop stage' })
  }
  if (stage !== 'all' && s.dryRun) {
    problems.push({ input: 'dry-run', message: 'a dry run plans in one stage: drop stage' })
  }
  const rack = Boolean(s.rackUrl || s.convoxPassword)
  if (!s.push && s.registry && (stage !== 'all' || rack) && !s.dryRun) {
    problems.push({
      input: 'push',
      message: `${stage !== 'all' ? 'a fan-out hands its images over through the registry' : "a build registered on a rack runs from the registry's images"}: drop push: false`
    })
  }
  if (stage === 'build' && s.export) {
    problems.push({ input: 'export', message: 'the export is written by the finish stage' })
  }
  return problems
}

/** A platform leg builds the one platform of its matrix entry, named with its services. */
function platformLegProblems(s: Settings): Problem[] {
  if (s.legs !== 'platforms' || s.stage !== 'build') return []
  if (s.leg) {
    return [
      {
        input: 'leg',
        message: "with legs: platforms, give the matrix entry's services and platforms instead"
      }
    ]
  }
  if (s.platforms.length !== 1) {
    return [
      {
        input: 'platforms',
        message: `a leg of legs: platforms builds one platform, its matrix entry's; got ${s.platforms.length === 0 ? 'none' : s.platforms.join(',')}`
      }
    ]
  }
  return []
}

/** `linux/arm64: ubuntu-24.04-arm` lines: the runner of each platform. */
function platformRunners(lines: string[], problems: Problem[]): Record<string, string> {
  const runners: Record<string, string> = {}
  lines.forEach((l, i) => {
    if (l === '') return
    const m = /^([^:\s]+)\s*:\s*([A-Za-z0-9][A-Za-z0-9._/-]*)\s*$/.exec(l)
    const platform = m ? platformOf(m[1]!) : ''
    if (!m || !platform) {
      problems.push({
        input: 'platform-runners',
        line: i + 1,
        message:
          'each line must be platform: runner, a runner label of letters, digits and ._/- (e.g. linux/arm64: ubuntu-24.04-arm)'
      })
      return
    }
    if (Object.hasOwn(runners, platform)) {
      problems.push({
        input: 'platform-runners',
        line: i + 1,
        message: `${platform} is given twice`
      })
      return
    }
    runners[platform] = m[2]!
  })
  return runners
}

/** A platform normalised, or '' when it is none. */
function platformOf(text: string): string {
  try {
    return normalisePlatforms([text])[0] ?? ''
  } catch {
    return ''
  }
}

/** `N/M` (1 <= N <= M): a parallel job's number and how many there are. */
function legOf(value: string, problems: Problem[]): Settings['leg'] {
  if (value === '') return undefined
  const m = /^(\d+)\s*\/\s*(\d+)$/.exec(value)
  const index = Number(m?.[1])
  const total = Number(m?.[2])
  if (!m || index < 1 || index > total) {
    problems.push({
      input: 'leg',
      message: `must be N/M with 1 <= N <= M (this job's number of M parallel jobs), got "${value}"`
    })
    return undefined
  }
  return { index, total }
}

/**
 * An input's value by its row: as given, else its first `env` variable's, else its default; ''
 * when none. Passwords are taken as given and lines keep their spacing; the rest is trimmed.
 */
function inputValue(
  read: InputReader,
  env: NodeJS.ProcessEnv,
  name: InputName,
  type: InputType
): string {
  const row = inputRow(name)
  if (row.type !== type) throw new Error(`input ${name} is a ${row.type}, read as a ${type}`)
  const asGiven = row.secret === 'value' || row.type === 'lines'
  const clean = (v: string | undefined): string => (asGiven ? (v ?? '') : (v ?? '').trim())
  const given = clean(read(name))
  if (given !== '') return given
  for (const variable of row.env ?? []) {
    const v = clean(env[variable])
    if (v !== '' && (row.envValues?.includes(v.toLowerCase()) ?? true)) return v
  }
  return row.default ?? ''
}

/** The `secrets` lines as `id=value`, each id once. */
function buildSecrets(lines: string[], problems: Problem[]): BuildSecret[] {
  const secrets: BuildSecret[] = []
  const secretLines = new Map<string, number>()
  lines.forEach((l, i) => {
    if (l === '') return
    const eq = l.indexOf('=')
    const id = eq < 0 ? '' : l.slice(0, eq).trim()
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) {
      problems.push({ input: 'secrets', line: i + 1, message: 'each line must be id=value' })
      return
    }
    const first = secretLines.get(id)
    if (first !== undefined) {
      problems.push({
        input: 'secrets',
        line: i + 1,
        message: `secret id "${id}" is given twice (first on line ${first})`
      })
      return
    }
    secretLines.set(id, i + 1)
    secrets.push({ id, value: l.slice(eq + 1) })
  })
  return secrets
}

/** Reads one registry-like input with its normaliser; a problem names the input. */
function normalise(
  input: string,
  fn: (value: string) => string,
  problems: Problem[],
  value: string
): string {
  if (value === '') return ''
  try {
    return fn(value)
  } catch (e) {
    problems.push({ input, message: (e as Error).message })
    return ''
  }
}

/** `https://Host:5000/` → `host:5000` (scheme and trailing slashes dropped, host lowercased). */
function bareHost(value: string): { host: string; path: string } {
  const text = value.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
  const slash = text.indexOf('/')
  const host = (slash < 0 ? text : text.slice(0, slash)).toLowerCase()
  const path = slash < 0 ? '' : text.slice(slash + 1).replace(/\/+$/, '')
  return { host, path }
}

/** A registry host as Docker tells one, or a bracketed IPv6 address. */
function looksLikeHost(host: string): boolean {
  return looksLikeRegistryHost(host) || host.startsWith('[')
}

/**
 * The `registry` input as `host[:port]/path`: the host is required (a bare `acme/app` or
 * `ghcr.io` would otherwise mean a Docker Hub repository, and its password would go there).
 */
function normaliseRepository(value: string): string {
  const { host, path } = bareHost(value)
  const example = 'give host[:port]/path, e.g. ghcr.io/acme/myapp or 127.0.0.1:5000/myapp'
  if (!looksLikeHost(host)) {
    throw new Error(
      `"${value}" has no registry host: ${example} (for Docker Hub, docker.io/<user>/<repo>)`
    )
  }
  if (path === '') throw new Error(`"${value}" is a registry without a repository path: ${example}`)
  if (!DOMAIN.test(host)) throw new Error(`"${value}" has an invalid registry host "${host}"`)
  if (path.includes('@') || path.includes(':')) {
    throw new Error(
      `"${value}" must be a repository without tag or digest (images are <registry>:<service>.<BUILD_ID>)`
    )
  }
  for (const part of path.split('/')) {
    if (part === '') throw new Error(`"${value}" has an empty path component ("//")`)
    if (/[A-Z]/.test(part)) {
      throw new Error(`"${value}" has "${part}" in its path: repository paths are lowercase`)
    }
    if (!PATH_COMPONENT.test(part)) {
      throw new Error(`"${value}" has an invalid repository path component "${part}"`)
    }
  }
  const canonicalHost = isDockerHubHost(host) ? DOCKER_HUB : host
  return `${canonicalHost}/${path}`
}

/** The `docker-hub-registry` input: `docker.io` for Docker Hub (any alias), else a mirror's host. */
function normaliseHubRegistry(value: string): string {
  const { host, path } = bareHost(value)
  // `https://index.docker.io/v1/` is how docker config files name Docker Hub.
  if (isDockerHubHost(host)) return DOCKER_HUB
  if (!looksLikeHost(host) || !DOMAIN.test(host)) {
    throw new Error(`"${value}" is not a registry host (host[:port], e.g. mirror.gcr.io)`)
  }
  if (path !== '') {
    throw new Error(`"${value}" has a path: give the mirror's host[:port] only`)
  }
  return host
}

/** The repository's name on GitHub, else the source directory's name, as an app name. */
function defaultApp(env: NodeJS.ProcessEnv, workingDirectory: string): string {
  const repo = env.GITHUB_REPOSITORY?.split('/')[1] ?? path.basename(workingDirectory)
  return repo
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
}

/** Adds every secret of the settings to the run's redactor. */
export function addSettingsSecrets(redactor: Redactor, s: Settings): void {
  redactor.addLogin(s.registryUsername, s.registryPassword)
  redactor.addLogin(s.dockerHubUsername, s.dockerHubPassword)
  redactor.addLogin('convox', s.convoxPassword)
  for (const x of s.secrets) redactor.add(x.value)
  const tls = s.buildkitTls
  for (const pem of [tls.key, tls.cert, tls.ca]) redactor.add(pem)
  redactor.add(s.signingKey)
  redactor.add(s.signingKeyPassword)
  if (s.rackUrl) {
    redactor.add(s.rackUrl)
    redactor.addLogin('convox', urlPassword(s.rackUrl))
  }
}
