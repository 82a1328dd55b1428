// The settings table: each input of the action, the CLI and the CI packages, once. readSettings
// parses by it; the CLI's flags, its help and the secret lists are read from it; action.yml's
// inputs, the README's input table, plugin.yml's properties and hooks/command's settings list are
// generated from it (`npm run generate`, checked by __tests__/unit/inputs.test.ts).
// Adding an input: a row here, `npm run generate`, and its field in readSettings.

export const CACHE_MODES = ['auto', 'registry', 'gha', 'local', 'inline', 'none'] as const
export const ENGINES = ['auto', 'buildx', 'buildctl'] as const
/** The stages of a fan-out (`all` runs them in one process). */
export const STAGES = ['all', 'start', 'build', 'finish'] as const
/** Whether the registry lets the cache tag be overwritten (ECR immutable tags do not). */
export const CACHE_TAG_MODES = ['auto', 'mutable', 'immutable'] as const
/** What a release that would drop env of the running release does (CLI 3.25.1). */
export const ENV_DROP_GUARDS = ['warn', 'strict', 'off'] as const
/**
 * How pushed images are signed: `auto` keylessly when the CI gives an OIDC token, else with
 * signing-key when it is given.
 */
export const SIGN_MODES = ['auto', 'keyless', 'key', 'off'] as const
/** Where a signed provenance's Sigstore bundle is attached for OCI 1.1 tools (signing/referrers.ts). */
export const OCI_REFERRERS_MODES = ['auto', 'always', 'off'] as const
/** What a fan-out's legs split: services, or builds and platforms. */
export const LEG_SPLITS = ['services', 'platforms'] as const
/** BuildKit's Dockerfile checks: shown as warnings, failing the build, or skipped. */
export const BUILD_CHECK_MODES = ['warn', 'error', 'off'] as const

/**
 * string: one value, trimmed; boolean: true/yes/1/on or false/no/0/off (a bare CLI flag);
 * choice: one of `options`; number: a whole number >= `min`; path: relative to the source root;
 * lines: one value a line, kept verbatim after leading indentation (the CLI flag repeats);
 * list: values separated by commas, spaces or newlines.
 */
export type InputType = 'string' | 'boolean' | 'choice' | 'number' | 'path' | 'lines' | 'list'

/** Where an input can be given. The action and the CLI take every input. */
export type Shell = 'action' | 'cli' | 'buildkite' | 'gitlab' | 'circleci'

/**
 * value: secret as given (passwords, read untrimmed); url: a URL, it and its password secret;
 * lines: `id=value` lines whose values are secret.
 */
export type SecretKind = 'value' | 'url' | 'lines'

export interface Input {
  name: string
  type: InputType
  /** type choice: the values taken, case-insensitive. */
  options?: readonly string[]
  /** type number: the smallest value taken. */
  min?: number
  /** Taken when neither the input nor an `env` variable gives a value. */
  default?: string
  /**
   * Variables read, first non-empty wins, when the input is not given (Convox's own names).
   * A default of an input with these is not written into action.yml: the runner would send it.
   */
  env?: readonly string[]
  /** Values of the `env` variables that count (lowercase); others are ignored. */
  envValues?: readonly string[]
  /** The README's default, when it is computed at run time or not just `default`. */
  shown?: string
  /** action.yml's default when it is a workflow expression the runner expands (the CLI has none). */
  actionDefault?: string
  secret?: SecretKind
  /** action.yml's description. */
  description: string
  /** The README's meaning column (Markdown, may link its sections). */
  readme: string
  /** One line of `convox-build --help`. */
  help: string
  shells: readonly Shell[]
}

const ALL = ['action', 'cli', 'buildkite', 'gitlab', 'circleci'] as const
const BUILDKITE = ['action', 'cli', 'buildkite'] as const
const ACTION_CLI = ['action', 'cli'] as const

export const INPUTS = [
  {
    name: 'app',
    type: 'string',
    env: ['CONVOX_APP'],
    shown: "`$CONVOX_APP`, else the repository's name",
    description:
      "Convox app name (BUILD_APP, image repository path, rack app). Defaults to $CONVOX_APP, else the repository's name.",
    readme: 'Convox app name (BUILD_APP, image repository path, rack app)',
    help: 'Convox app name (default: $CONVOX_APP, else the directory or repository name)',
    shells: ALL
  },
  {
    name: 'rack',
    type: 'string',
    env: ['CONVOX_RACK'],
    description:
      'Rack name (BUILD_RACK); with rack credentials, the rack to register with. Defaults to $CONVOX_RACK.',
    readme: 'rack name (BUILD_RACK); with rack credentials, the rack to register with',
    help: 'rack name (BUILD_RACK; default: $CONVOX_RACK); with rack credentials, where to register',
    shells: ALL
  },
  {
    name: 'manifest',
    type: 'string',
    default: 'convox.yml',
    description: 'Manifest path, relative to `working-directory` (BUILD_MANIFEST).',
    readme: 'manifest path, relative to `working-directory` (BUILD_MANIFEST)',
    help: 'manifest path relative to --working-directory (default: convox.yml)',
    shells: ['action', 'cli', 'buildkite', 'gitlab']
  },
  {
    name: 'working-directory',
    type: 'path',
    default: '.',
    description: 'The source root.',
    readme: 'the source root',
    help: 'the source root (default: .)',
    shells: ALL
  },
  {
    name: 'build-args',
    type: 'lines',
    description:
      'Build args, one per line: `NAME` (a managed arg such as BUILD_GIT_SHA, or taken from the environment) or `NAME=VALUE` (the value may hold `=`, spaces, or be empty).',
    readme:
      'one per line: `NAME` (a managed arg, or taken from the environment) or `NAME=VALUE` (value may hold `=`, spaces, be empty)',
    help: 'NAME or NAME=VALUE; repeat the flag for each arg',
    shells: ALL
  },
  {
    name: 'secrets',
    type: 'lines',
    secret: 'lines',
    description: 'BuildKit secrets, one per line `id=value`; masked; never build args.',
    readme: 'BuildKit secrets, one per line `id=value`; masked; never build args',
    help: 'BuildKit secret id=value; repeat the flag for each secret',
    shells: ACTION_CLI
  },
  {
    name: 'description',
    type: 'string',
    shown: '`build <sha10> <commit subject>`',
    description: 'Build description. Defaults to `build <sha10> <commit subject>`.',
    readme: 'build description',
    help: 'build description (default: build <sha10> <commit subject>)',
    shells: BUILDKITE
  },
  {
    name: 'development',
    type: 'boolean',
    default: 'false',
    description: 'Development build (target `development` where that stage exists).',
    readme: 'development build (target `development` where that stage exists)',
    help: 'development build (target development where that stage exists)',
    shells: BUILDKITE
  },
  {
    name: 'no-cache',
    type: 'boolean',
    default: 'false',
    description: 'Build without any cache.',
    readme: 'build without any cache',
    help: 'build without any cache',
    shells: BUILDKITE
  },
  {
    name: 'build-checks',
    type: 'choice',
    options: BUILD_CHECK_MODES,
    default: 'warn',
    description:
      "`warn`, `error` or `off`: BuildKit's Dockerfile checks (lint rules such as SecretsUsedInArgOrEnv) as warnings at the Dockerfile's line, as a failed build, or skipped.",
    readme:
      "BuildKit's [Dockerfile checks](#build-checks): `warn` (annotations at the Dockerfile's line), `error` (a check fails the build before it runs) or `off`",
    help: "warn, error or off for BuildKit's Dockerfile checks (default: warn)",
    shells: BUILDKITE
  },
  {
    name: 'registry',
    type: 'string',
    description:
      'Push repository, e.g. `ghcr.io/acme/myapp`; images are `<registry>:<service>.<BUILD_ID>`.',
    readme:
      'push repository `host[:port]/path`, e.g. `ghcr.io/acme/myapp` (`docker.io/acme/myapp` for Docker Hub); images are `<registry>:<service>.<BUILD_ID>`; a host without a path is refused, so its password can only go to that host',
    help: 'push repository, e.g. ghcr.io/acme/myapp',
    shells: ALL
  },
  {
    name: 'registry-username',
    type: 'string',
    description: 'Username for `registry`.',
    readme: 'username for `registry`',
    help: 'username for --registry',
    shells: ALL
  },
  {
    name: 'registry-password',
    type: 'string',
    secret: 'value',
    description: 'Password or token for `registry`.',
    readme: 'password or token for `registry`',
    help: 'password for --registry',
    shells: ['action', 'cli', 'gitlab', 'circleci']
  },
  {
    name: 'docker-hub-username',
    type: 'string',
    description: 'Docker Hub login for pulls (rate limits).',
    readme: 'Docker Hub login for pulls (rate limits)',
    help: 'Docker Hub login for pulls',
    shells: ['action', 'cli', 'buildkite', 'gitlab']
  },
  {
    name: 'docker-hub-password',
    type: 'string',
    secret: 'value',
    description: 'Docker Hub password or access token for pulls.',
    readme: 'Docker Hub password or access token for pulls',
    help: 'Docker Hub password or token',
    shells: ['action', 'cli', 'gitlab']
  },
  {
    name: 'docker-hub-registry',
    type: 'string',
    default: 'docker.io',
    description:
      'Where Docker Hub images come from and the Docker Hub login goes: Docker Hub itself, or a mirror / pull-through cache; image services on `docker.io` are copied from it.',
    readme:
      'where Docker Hub images come from and the Docker Hub login goes: Docker Hub itself, or a mirror / pull-through cache; image services on `docker.io` are copied from it',
    help: 'Docker Hub or a mirror of it (default: docker.io)',
    shells: BUILDKITE
  },
  {
    name: 'push',
    type: 'boolean',
    shown: '`true` when `registry` is set',
    description: 'Push images. Defaults to `true` when `registry` is set, else `false`.',
    readme: 'push images',
    help: 'push images (default: true when --registry is set)',
    shells: BUILDKITE
  },
  {
    name: 'cache',
    type: 'choice',
    options: CACHE_MODES,
    default: 'auto',
    description:
      '`auto`, `registry`, `gha`, `local`, `inline` or `none`; auto = registry when pushing, else gha on GitHub, else local.',
    readme:
      '`auto`, `registry`, `gha`, `local`, `inline`, `none`; auto = registry when pushing, else gha on GitHub, else local',
    help: 'auto, registry, gha, local, inline or none (default: auto)',
    shells: ['action', 'cli', 'buildkite', 'gitlab']
  },
  {
    name: 'engine',
    type: 'choice',
    options: ENGINES,
    default: 'auto',
    description: '`auto`, `buildx` or `buildctl`.',
    readme: '`auto`, `buildx`, `buildctl`',
    help: 'auto, buildx or buildctl (default: auto)',
    shells: ALL
  },
  {
    name: 'builder',
    type: 'string',
    description: 'Buildx builder name.',
    readme: 'buildx builder name',
    help: 'buildx builder name',
    shells: BUILDKITE
  },
  {
    name: 'buildkit-host',
    type: 'string',
    env: ['BUILDKIT_HOST'],
    description: 'BuildKit daemon address for `buildctl`. Defaults to `$BUILDKIT_HOST`.',
    readme: 'BuildKit daemon address for `buildctl`',
    help: 'BuildKit daemon address for buildctl (default: $BUILDKIT_HOST)',
    shells: BUILDKITE
  },
  {
    name: 'buildkit-tls-ca',
    type: 'string',
    secret: 'value',
    description:
      'CA certificate (PEM text, or a file path) that `buildkit-host` must present a certificate of, for `buildctl` over mutual TLS.',
    readme:
      'CA certificate (PEM text or a file path) of `buildkit-host`, for mutual TLS (see [Remote BuildKit and multi-node builders](#remote-buildkit-and-multi-node-builders))',
    help: 'CA certificate of --buildkit-host for mutual TLS: a PEM file, or PEM text in $CONVOX_BUILD_BUILDKIT_TLS_CA',
    shells: ['action', 'cli']
  },
  {
    name: 'buildkit-tls-cert',
    type: 'string',
    secret: 'value',
    description:
      'Client certificate (PEM text, or a file path) for `buildkit-host` over mutual TLS.',
    readme: 'client certificate (PEM text or a file path) for `buildkit-host` over mutual TLS',
    help: 'client certificate for --buildkit-host: a PEM file, or PEM text in $CONVOX_BUILD_BUILDKIT_TLS_CERT',
    shells: ['action', 'cli']
  },
  {
    name: 'buildkit-tls-key',
    type: 'string',
    secret: 'value',
    description: 'Client key (PEM text, or a file path) for `buildkit-host` over mutual TLS.',
    readme: 'client key (PEM text or a file path) for `buildkit-host` over mutual TLS',
    help: 'client key for --buildkit-host: a PEM file, or PEM text in $CONVOX_BUILD_BUILDKIT_TLS_KEY',
    shells: ['action', 'cli']
  },
  {
    name: 'buildkit-tls-server-name',
    type: 'string',
    description:
      "Name `buildkit-host`'s certificate is checked against; default: the address's host.",
    readme: "name `buildkit-host`'s certificate is checked against; default: the address's host",
    help: "name --buildkit-host's certificate is checked against (default: its host)",
    shells: BUILDKITE
  },
  {
    name: 'platforms',
    type: 'string',
    description:
      "Target platforms, comma-separated, e.g. `linux/amd64,linux/arm64` (one OCI index per service). Empty: the app's `BuildArch` when registering on a rack, else the builder's own.",
    readme:
      "target platforms, comma-separated, e.g. `linux/amd64,linux/arm64` (see [Platforms](#platforms)); empty: the app's `BuildArch` when registering on a rack, else the builder's own",
    help: "target platforms, e.g. linux/amd64,linux/arm64 (default: the app's BuildArch on a rack, else the builder's)",
    shells: BUILDKITE
  },
  {
    name: 'concurrency',
    type: 'number',
    min: 1,
    shown: 'no cap',
    description:
      'Most builds running at once. No cap by default: every distinct build is submitted at once and BuildKit schedules their steps.',
    readme:
      'most builds running at once; by default every distinct build is submitted at once, because BuildKit schedules their steps itself and a cap only makes builds wait behind others',
    help: 'most builds running at once (default: no cap, BuildKit schedules)',
    shells: BUILDKITE
  },
  {
    name: 'export',
    type: 'path',
    description: 'Path of a `convox builds import` tarball to write.',
    readme: 'path of a `convox builds import` tarball to write',
    help: 'write a `convox builds import` tarball to this path',
    shells: ALL
  },
  {
    name: 'upload-artifact',
    type: 'string',
    description: 'Artifact name to upload the export under (empty, the default: no upload).',
    readme: 'artifact name to upload the export under (empty: no upload)',
    help: 'artifact name (the GitHub Action only; the CLI ignores it)',
    shells: ACTION_CLI
  },
  {
    name: 'rack-url',
    type: 'string',
    env: ['RACK_URL'],
    secret: 'url',
    description:
      "`https://convox:<password>@api.<domain>`: register build and release on this rack. Defaults to `$RACK_URL`. Every rack call must answer within 30 s (an import, upload and the rack's pushes, within 60 minutes), else the step fails with one line.",
    readme: '`https://convox:<password>@api.<domain>`: register build and release on this rack',
    help: 'https://convox:<password>@api.<domain> (default: $RACK_URL); each call answers within 30 s, an import within 60 min',
    shells: ACTION_CLI
  },
  {
    name: 'convox-host',
    type: 'string',
    env: ['CONVOX_HOST'],
    default: 'console.convox.com',
    description:
      'Console mode (deploy key) host; with `rack` as `<org>/<rack>`. Defaults to $CONVOX_HOST (as convox/action-login sets it), else console.convox.com.',
    readme: 'Console mode (deploy key) host; with `rack` as `<org>/<rack>`',
    help: 'Console host (default: $CONVOX_HOST, else console.convox.com)',
    shells: BUILDKITE
  },
  {
    name: 'convox-password',
    type: 'string',
    env: ['CONVOX_PASSWORD'],
    secret: 'value',
    description:
      'Console mode deploy key; with `rack` as `<org>/<rack>`. Defaults to $CONVOX_PASSWORD (as convox/action-login sets it).',
    readme: 'Console mode deploy key; with `rack` as `<org>/<rack>`',
    help: 'Console deploy key (default: $CONVOX_PASSWORD)',
    shells: ACTION_CLI
  },
  {
    name: 'import',
    type: 'path',
    description: 'Path of an export tarball to import into `app` on the rack instead of building.',
    readme: 'path of an export tarball to import into `app` on the rack instead of building',
    help: 'import this export tarball into the app on the rack instead of building',
    shells: BUILDKITE
  },
  {
    name: 'promote',
    type: 'boolean',
    default: 'false',
    description: 'Promote the release on the rack and wait.',
    readme: 'promote the release on the rack and wait',
    help: 'promote the release on the rack and wait',
    shells: BUILDKITE
  },
  {
    name: 'review',
    type: 'boolean',
    default: 'false',
    description:
      "On pull-request events: build into the review app <app>-pr-<number> (created with the app's env, promoted), and delete it when the pull request closes.",
    readme:
      'on pull-request events, build into the review app `<app>-pr-<number>` (see [Review apps](#review-apps)); deleted when the pull request closes',
    help: 'build pull requests into the review app <app>-pr-<number>',
    shells: ACTION_CLI
  },
  {
    name: 'review-env',
    type: 'lines',
    secret: 'lines',
    description: "KEY=VALUE lines set in the review app's env over the app's (values are secret).",
    readme: "`KEY=VALUE` lines set in the review app's env over the app's (values are secret)",
    help: "KEY=VALUE set in the review app's env over the app's (repeatable)",
    shells: ACTION_CLI
  },
  {
    name: 'github-token',
    type: 'string',
    secret: 'value',
    actionDefault: '${{ github.token }}',
    env: ['GITHUB_TOKEN'],
    shown: "the workflow's token (`$GITHUB_TOKEN`)",
    description:
      "Token for the review app's pull-request comment (needs `pull-requests: write`). Defaults to the workflow's token.",
    readme: "token for the review app's pull-request comment (needs `pull-requests: write`)",
    help: "GitHub token for the review app's pull-request comment",
    shells: ACTION_CLI
  },
  {
    name: 'gitlab-token',
    type: 'string',
    secret: 'value',
    description:
      "GitLab token for the review app's merge request note (a project or personal access token with `api` scope; CI_JOB_TOKEN cannot write notes). CLI: $CONVOX_BUILD_GITLAB_TOKEN.",
    readme:
      "CLI on GitLab: token for the review app's merge request note, a project or personal access token with `api` scope (`CI_JOB_TOKEN` cannot write notes)",
    help: "GitLab token (api scope) for the review app's merge request note",
    shells: ACTION_CLI
  },
  {
    name: 'dry-run',
    type: 'boolean',
    default: 'false',
    description:
      "Validate and plan only: no builder; with rack credentials only read-only GETs (the app's env, for `${VAR}` and ARG values); sets `plan` and `build-id`.",
    readme:
      "validate and plan only: no builder; with rack credentials, only the rack's read-only GETs (the app's env); sets `plan` and `build-id`",
    help: 'validate and plan only (what `plan` does)',
    shells: ACTION_CLI
  },
  {
    name: 'summary',
    type: 'boolean',
    default: 'true',
    description: 'Write the job summary.',
    readme: 'write the job summary',
    help: 'write the job summary (--summary-file, Buildkite annotation; default: true)',
    shells: BUILDKITE
  },
  {
    name: 'reuse',
    type: 'boolean',
    default: 'true',
    description:
      'Reuse the image of an unchanged build (same content key: context files, Dockerfile, args, target, platforms, base image digests) instead of building it.',
    readme:
      'reuse the image of an unchanged build instead of building it (see [Reuse of unchanged builds](#reuse-of-unchanged-builds)); `no-cache` turns it off too',
    help: 'reuse the image of an unchanged build instead of building it (default: true)',
    shells: BUILDKITE
  },
  {
    name: 'stage',
    type: 'choice',
    options: STAGES,
    default: 'all',
    description:
      '`all`, or one stage of a fan-out: `start` (plan, create the rack build, output `matrix`), `build` (only `services`, under `build-id`), `finish` (check every image, record, export, release).',
    readme:
      '`all`, or one stage of a [fan-out](#fan-out-one-convox-build-from-many-runners): `start`, `build`, `finish`',
    help: 'all, or a fan-out stage: start, build or finish (default: all)',
    shells: BUILDKITE
  },
  {
    name: 'services',
    type: 'list',
    description: 'With `stage: build`: the services to build (comma- or newline-separated).',
    readme: 'with `stage: build`: the services to build, comma- or newline-separated',
    help: 'with --stage build: the services to build, comma-separated',
    shells: BUILDKITE
  },
  {
    name: 'leg',
    type: 'string',
    description:
      "With `stage: build`, instead of `services`: `N/M`, this job's number of M parallel jobs; it builds entry N of the matrix made with `max-legs: M` (GitLab `parallel`, Buildkite `parallelism`, CircleCI `parallelism`).",
    readme:
      'with `stage: build`, instead of `services`: `N/M`, entry N of the matrix made with `max-legs: M`',
    help: 'with --stage build: N/M, entry N of the matrix of M legs (parallel jobs)',
    shells: BUILDKITE
  },
  {
    name: 'build-id',
    type: 'string',
    description: 'With `stage: build` / `finish`: the build id that `start` returned.',
    readme: 'with `stage: build` / `finish`: the build id `start` gave',
    help: 'with --stage build/finish: the build id start printed',
    shells: BUILDKITE
  },
  {
    name: 'max-legs',
    type: 'number',
    min: 0,
    shown: 'one per build',
    description:
      'Most entries of the `matrix` output; builds are grouped to fit (default: one entry per distinct build).',
    readme: 'most entries of the `matrix` output (builds are grouped to fit)',
    help: 'most entries of the fan-out matrix (default: one per build)',
    shells: BUILDKITE
  },
  {
    name: 'legs',
    type: 'choice',
    options: LEG_SPLITS,
    default: 'services',
    description:
      "What a fan-out splits into legs: `services` (a leg builds its services for every platform), or `platforms` (a leg per build and platform, each on its own runner; finish joins each service's platforms into one index). The same value in every stage.",
    readme:
      'what the `matrix` splits: `services`, or `platforms` (a leg per build and platform, joined into one index by finish; [legs per platform](#legs-per-platform))',
    help: 'fan-out legs: services, or platforms (one per build and platform)',
    shells: BUILDKITE
  },
  {
    name: 'platform-runners',
    type: 'lines',
    description:
      "With `legs: platforms`: a runner per platform for the `matrix` entries' `runner`, one `platform: runner` a line (e.g. `linux/arm64: ubuntu-24.04-arm`).",
    readme: 'with `legs: platforms`: `platform: runner` lines, the `runner` of each `matrix` entry',
    help: "with --legs platforms: a platform: runner line, the matrix entries' runner",
    shells: BUILDKITE
  },
  {
    name: 'build-auth-in-image',
    type: 'boolean',
    default: 'false',
    description:
      "Keep the rack's behaviour for Dockerfiles that cannot change yet: BUILD_AUTH may reach the final image's history (a warning on every run). Prefer `RUN --mount=type=secret,id=BUILD_AUTH`.",
    readme:
      "keep the rack's behaviour: `BUILD_AUTH` may reach the final image's history ([BUILD_AUTH](#build_auth-and-secrets)); warns on every run",
    help: 'let BUILD_AUTH reach the final image, as the rack does (warns)',
    shells: BUILDKITE
  },
  {
    name: 'rack-ca',
    type: 'path',
    description:
      "Path of a PEM bundle of the CA certificates that sign the rack's certificate, or of the rack's own self-signed certificate (trusted for the rack's host as it is).",
    readme:
      "PEM bundle of the CAs that sign the rack's certificate, or the rack's own self-signed certificate",
    help: "PEM bundle of the CAs that sign the rack certificate, or the rack's own",
    shells: BUILDKITE
  },
  {
    name: 'rack-insecure',
    type: 'boolean',
    default: 'false',
    description:
      "Do not verify the rack's TLS certificate (as Convox's own CLI does); a warning on every run. Prefer `rack-ca`.",
    readme: "do not verify the rack's certificate (as Convox's CLI does); warns on every run",
    help: 'do not verify the rack certificate (warns)',
    shells: BUILDKITE
  },
  {
    name: 'cache-tags',
    type: 'choice',
    options: CACHE_TAG_MODES,
    default: 'auto',
    description:
      '`auto`, `mutable` or `immutable`: whether the registry lets `<service>.buildcache` be overwritten. `immutable` writes the cache per build (`<service>.buildcache.<BUILD_ID>`), as the rack does on ECR with immutable tags; `auto` switches when the registry refuses.',
    readme:
      '`auto`, `mutable`, `immutable`: whether the registry lets `<service>.buildcache` be overwritten (see [Caches](#caches))',
    help: 'auto, mutable or immutable registry cache tags (default: auto)',
    shells: BUILDKITE
  },
  {
    name: 'env-drop-guard',
    type: 'choice',
    options: ENV_DROP_GUARDS,
    default: 'warn',
    // CONVOX_ENV_DROP_GUARD=strict is the convox CLI's switch; it knows no other value.
    env: ['CONVOX_ENV_DROP_GUARD'],
    envValues: ['strict'],
    shown: '`warn` (`strict` with `CONVOX_ENV_DROP_GUARD=strict`)',
    description:
      '`warn`, `strict` or `off`: what to do when the new release would lack env set in the running release (strict fails the build). Defaults to strict when CONVOX_ENV_DROP_GUARD=strict.',
    readme:
      '`warn`, `strict` or `off`: when registering, the new release would lack env the running release has',
    help: 'warn, strict or off when the release drops env (default: warn)',
    shells: BUILDKITE
  },
  {
    name: 'git-sha',
    type: 'string',
    shown: 'from the CI, else git',
    description: 'The commit built (BUILD_GIT_SHA). Defaults to what the CI says.',
    readme: 'the commit built (`BUILD_GIT_SHA`)',
    help: 'the commit built (BUILD_GIT_SHA; default: from the CI or git)',
    shells: BUILDKITE
  },
  {
    name: 'trusted-refs',
    type: 'list',
    description:
      'Ref globs, comma- or newline-separated (`main`, `release/*`, `refs/tags/v*`), whose runs are protected besides the default branch and tags: they read and write the shared cache and reuse tags. Every other run (pull requests, forks, other branches) writes only tags of its own scope (`<service>.buildcache.pr-7`).',
    readme:
      'ref globs, comma- or newline-separated (`main`, `release/*`, `refs/tags/v*`), whose runs are protected besides the default branch and tags (see [Trust scopes](#trust-scopes-what-a-pull-request-may-write))',
    help: 'ref globs whose runs write the shared caches and reuse tags, besides the default branch and tags (main, release/*, refs/tags/v*)',
    shells: ALL
  },
  {
    name: 'allow-fork-code',
    type: 'boolean',
    default: 'false',
    description:
      "Build a fork's code with credentials given under `pull_request_target` or `workflow_run` (each CI's equivalent too). Refused by default; check out the base instead, or review the code first.",
    readme:
      "build a fork's checked-out code with credentials under `pull_request_target` / `workflow_run` (see [The fork guard](#the-fork-guard))",
    help: "build a fork's checked-out code with credentials under pull_request_target / workflow_run (default: false)",
    shells: BUILDKITE
  },
  {
    name: 'sign',
    type: 'choice',
    options: SIGN_MODES,
    default: 'auto',
    description:
      "`auto`, `keyless`, `key` or `off`: sign every pushed image (a cosign signature and a signed SLSA v1 provenance attestation). keyless: through Sigstore with the CI's OIDC identity (GitHub needs `permissions: id-token: write`); key: with `signing-key`. auto: keyless when the CI gives an OIDC token, else key when signing-key is given, else off.",
    readme:
      "`auto`, `keyless`, `key` or `off`: a cosign signature and a signed SLSA v1 provenance on every pushed image, keylessly through Sigstore with the CI's OIDC identity, or with `signing-key` (see [Signed images](#signed-images-and-provenance)); auto: keyless when the CI gives an OIDC token, else key when a key is given",
    help: "auto, keyless, key or off: sign pushed images and their provenance through Sigstore with the CI's OIDC identity, or with --signing-key (default: auto)",
    shells: BUILDKITE
  },
  {
    name: 'sigstore-fulcio-url',
    type: 'string',
    default: 'https://fulcio.sigstore.dev',
    description:
      "Fulcio (Sigstore's certificate authority) that certifies the CI's identity for `sign: keyless`; GitHub's private instance or your own Sigstore's.",
    readme:
      "Sigstore's certificate authority (Fulcio) for `sign: keyless`: the public-good instance, GitHub's private one or your own",
    help: 'Fulcio URL for keyless signing (default: https://fulcio.sigstore.dev)',
    shells: BUILDKITE
  },
  {
    name: 'sigstore-rekor-url',
    type: 'string',
    default: 'https://rekor.sigstore.dev',
    description:
      'Rekor transparency log the keyless signatures are logged in; `none` logs nothing (then sigstore-tsa-url timestamps them).',
    readme:
      'transparency log (Rekor) of keyless signatures; `none`: not logged, timestamped by `sigstore-tsa-url` instead',
    help: 'Rekor URL for keyless signing, or none (default: https://rekor.sigstore.dev)',
    shells: BUILDKITE
  },
  {
    name: 'sigstore-tsa-url',
    type: 'string',
    description:
      'RFC 3161 timestamp authority that timestamps keyless signatures (as well as, or instead of, Rekor): its base URL, `/api/v1/timestamp` is asked.',
    readme:
      'RFC 3161 timestamp authority for keyless signatures, besides or instead of Rekor (none by default)',
    help: 'timestamp authority URL for keyless signing (default: none)',
    shells: BUILDKITE
  },
  {
    name: 'sigstore-trusted-root',
    type: 'path',
    shown: "the public-good instance's, from Sigstore's TUF repository",
    description:
      "Path of the Sigstore trusted_root.json (Fulcio roots, Rekor, CT log and TSA keys) keyless signatures are verified against before an image is reused; default: the public-good instance's, from Sigstore's TUF repository.",
    readme:
      'path of the Sigstore `trusted_root.json` keyless signatures are verified against before reuse (see [Verified reuse](#verified-reuse))',
    help: "path of the Sigstore trusted_root.json verifying keyless signatures (default: the public-good instance's)",
    shells: BUILDKITE
  },
  {
    name: 'signing-key',
    type: 'string',
    secret: 'value',
    description:
      'ECDSA P-256 private key (PEM, PKCS#8 or SEC1, encrypted PKCS#8 with signing-key-password) that signs the images; `cosign verify --key` checks them with its public half.',
    readme:
      'ECDSA P-256 private key, PEM (PKCS#8, SEC1, or encrypted PKCS#8 with `signing-key-password`), that signs the images',
    help: 'PEM ECDSA P-256 private key that signs the images',
    shells: ACTION_CLI
  },
  {
    name: 'signing-key-password',
    type: 'string',
    secret: 'value',
    description: 'Password of an encrypted `signing-key`.',
    readme: 'password of an encrypted `signing-key`',
    help: 'password of an encrypted --signing-key',
    shells: ACTION_CLI
  },
  {
    name: 'reuse-trust',
    type: 'string',
    shown: "the signing key; keyless: this repository's protected refs",
    description:
      "Whose signature makes an image under a reuse key tag reusable when images are signed, one a line, besides signing-key's own and (keyless) this repository's protected refs: PEM public keys (cosign.pub); certificate identities (`identity: https://github.com/acme/*/.github/workflows/*.yml@refs/heads/main`, a glob over the Fulcio certificate's subject, `*` within a path segment, `**` across); or `any` to reuse unsigned images as before.",
    readme:
      "PEM public keys and `identity: <glob>` lines (Fulcio certificate identities) trusted for reuse besides `signing-key`'s own and this repository's protected refs, or `any` (reuse unsigned images); see [Verified reuse](#verified-reuse)",
    help: 'PEM public keys or identity: <glob> lines trusted for reuse, or any',
    shells: ACTION_CLI
  },
  {
    name: 'oci-referrers',
    type: 'choice',
    options: OCI_REFERRERS_MODES,
    default: 'auto',
    description:
      "Where each signed provenance is also attached as a Sigstore bundle, for OCI 1.1 tools (`cosign verify-attestation --new-bundle-format`): `auto`: as a referrer where the registry has the referrers API; `always`: also in the referrers tag (`sha256-<hex>`) where it has none (cosign 2.5+ then verifies that image's signatures through the bundle, and offline needs `--trusted-root`); `off`: cosign's tags only.",
    readme:
      '`auto`, `always` or `off`: where the provenance is also a Sigstore bundle for OCI 1.1 tools; auto: where the registry has the referrers API; always: also in the referrers tag (see [OCI referrers](#oci-referrers))',
    help: 'auto, always or off: attach the provenance as an OCI referrer bundle (default: auto)',
    shells: BUILDKITE
  },
  {
    name: 'github-attestation',
    type: 'boolean',
    default: 'false',
    description:
      "Also store each image's provenance as a GitHub artifact attestation (`gh attestation verify oci://IMAGE`), signed with the job's OIDC token through Sigstore; the job needs `id-token: write` and `attestations: write`, and `github-token`. The GitHub Action only.",
    readme:
      "each image's provenance also as a GitHub artifact attestation (needs `id-token: write`, `attestations: write`; the action only; see [GitHub artifact attestations](#github-artifact-attestations))",
    help: 'also a GitHub artifact attestation of each image (the GitHub Action only; default: false)',
    shells: ACTION_CLI
  },
  {
    name: 'app-env-args',
    type: 'boolean',
    default: 'true',
    description:
      "As the rack does, every ARG the build's target consumes takes its value from the app's env (its latest release, what `convox env` shows) when the rack is known, build-args overriding it; the values are masked. `false`: only build-args give ARG values.",
    readme:
      "as the rack: every `ARG` the build's target consumes takes its value from the app's env when the rack is known, build args overriding it ([ARG values from the app's env](#arg-values-from-the-apps-env)); `false`: build args only",
    help: 'ARGs take values from the app env on the rack, as the rack does (default true)',
    shells: BUILDKITE
  }
] as const satisfies readonly Input[]

export type InputName = (typeof INPUTS)[number]['name']

const BY_NAME = new Map<string, Input>(INPUTS.map(i => [i.name, i]))

/** The row of an input. */
export function inputRow(name: InputName): Input {
  return BY_NAME.get(name) as Input
}

/** Inputs a shell takes, in the table's order. */
export function inputsOf(shell: Shell): Input[] {
  return INPUTS.filter(i => (i.shells as readonly Shell[]).includes(shell))
}
