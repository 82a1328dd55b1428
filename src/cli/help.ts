import { EXIT_CODES } from '../core/errors.js'
import { envName, SETTING_FLAGS, BOOLEAN_FLAGS, REPEATABLE_FLAGS } from './args.js'

/** One line per setting flag: what it takes and does (action.yml has the long form). */
const FLAG_HELP: Record<(typeof SETTING_FLAGS)[number], string> = {
  app: 'Convox app name (default: $CONVOX_APP, else the directory or repository name)',
  rack: 'rack name (BUILD_RACK; default: $CONVOX_RACK); with rack credentials, where to register',
  manifest: 'manifest path relative to --working-directory (default: convox.yml)',
  'working-directory': 'the source root (default: .)',
  'build-args': 'NAME or NAME=VALUE; repeat the flag for each arg',
  secrets: 'BuildKit secret id=value; repeat the flag for each secret',
  description: 'build description (default: build <sha10> <commit subject>)',
  development: 'development build (target development where that stage exists)',
  'no-cache': 'build without any cache',
  registry: 'push repository, e.g. ghcr.io/acme/myapp',
  'registry-username': 'username for --registry',
  'registry-password': 'password for --registry',
  'docker-hub-username': 'Docker Hub login for pulls',
  'docker-hub-password': 'Docker Hub password or token',
  'docker-hub-registry': 'Docker Hub or a mirror of it (default: docker.io)',
  push: 'push images (default: true when --registry is set)',
  cache: 'auto, registry, gha, local, inline or none (default: auto)',
  engine: 'auto, buildx or buildctl (default: auto)',
  builder: 'buildx builder name',
  'buildkit-host': 'BuildKit daemon address for buildctl (default: $BUILDKIT_HOST)',
  platforms:
    "target platforms, e.g. linux/amd64,linux/arm64 (default: the app's BuildArch on a rack, else the builder's)",
  concurrency: 'most builds running at once (default: no cap, BuildKit schedules)',
  export: 'write a `convox builds import` tarball to this path',
  'upload-artifact': 'artifact name (the GitHub Action only; the CLI ignores it)',
  'rack-url':
    'https://convox:<password>@api.<domain> (default: $RACK_URL); each call answers within 30 s, an import within 60 min',
  'convox-host': 'Console host (default: $CONVOX_HOST, else console.convox.com)',
  'convox-password': 'Console deploy key (default: $CONVOX_PASSWORD)',
  import: 'import this export tarball into the app on the rack instead of building',
  promote: 'promote the release on the rack and wait',
  'dry-run': 'validate and plan only (what `plan` does)',
  summary: 'write the job summary (--summary-file, Buildkite annotation; default: true)',
  reuse: 'reuse the image of an unchanged build instead of building it (default: true)',
  stage: 'all, or a fan-out stage: start, build or finish (default: all)',
  services: 'with --stage build: the services to build, comma-separated',
  leg: 'with --stage build: N/M, entry N of the matrix of M legs (parallel jobs)',
  'build-id': 'with --stage build/finish: the build id start printed',
  'max-legs': 'most entries of the fan-out matrix (default: one per build)',
  'build-auth-in-image': 'let BUILD_AUTH reach the final image, as the rack does (warns)',
  'app-env-args': 'ARGs take values from the app env on the rack, as the rack does (default true)',
  'rack-ca': "PEM bundle of the CAs that sign the rack certificate, or the rack's own",
  'rack-insecure': 'do not verify the rack certificate (warns)',
  'cache-tags': 'auto, mutable or immutable registry cache tags (default: auto)',
  'env-drop-guard': 'warn, strict or off when the release drops env (default: warn)',
  'git-sha': 'the commit built (BUILD_GIT_SHA; default: from the CI or git)',
  'trusted-refs':
    'ref globs whose runs write the shared caches and reuse tags, besides the default branch and tags (main, release/*, refs/tags/v*)',
  'allow-fork-code':
    "build a fork's checked-out code with credentials under pull_request_target / workflow_run (default: false)"
}

export function helpText(): string {
  const width = Math.max(...SETTING_FLAGS.map(f => usage(f).length))
  const lines = [
    'Usage: convox-build <command> [flags]',
    '',
    'Builds a Convox app with BuildKit, as the rack would build it.',
    '',
    'Commands:',
    '  plan    validate the manifest and print the build plan as JSON (no builder; reads the app env from a given rack)',
    '  build   build, push and export; prints "Build: B..." and "Release: R..." at the end',
    '',
    'Flags (each also read from the environment as CONVOX_BUILD_<NAME>, e.g.',
    `${envName('build-args')} with one arg per line):`,
    ...SETTING_FLAGS.map(f => `  ${usage(f).padEnd(width)}  ${FLAG_HELP[f]}`),
    '',
    'Output:',
    `  ${'--id'.padEnd(width)}  print only the release id on stdout (as convox build --id)`,
    `  ${'--output-file <file>'.padEnd(width)}  write the outputs as NAME=value lines (a GitLab dotenv report)`,
    `  ${'--summary-file <file>'.padEnd(width)}  write the job summary as Markdown`,
    `  ${'--code-quality-file <file>'.padEnd(width)}  problems and warnings as a GitLab code quality report`,
    `  ${'--json'.padEnd(width)}  print the full result as JSON on stdout`,
    `  ${'--debug'.padEnd(width)}  debug logs and stack traces`,
    `  ${'--help, -h'.padEnd(width)}  this help`,
    `  ${'--version'.padEnd(width)}  the version`,
    '',
    'Exit codes:',
    ...EXIT_CODE_HELP.map(([code, meaning]) => `  ${code.padEnd(width)}  ${meaning}`),
    ''
  ]
  return lines.join('\n')
}

/** What each exit code means (README "Exit codes" has the long form). */
const EXIT_CODE_HELP: [string, string][] = [
  [
    `${EXIT_CODES.user}`,
    'a mistake in the input, convox.yml or a Dockerfile; or an unexpected error'
  ],
  [
    `${EXIT_CODES.build}`,
    'a build failed (BuildKit), or a fan-out leg did and its images are missing'
  ],
  [`${EXIT_CODES.remote}`, 'a registry or the rack failed, timed out or gave up after retries'],
  ['130, 143', 'cancelled by SIGINT, SIGTERM']
]

function usage(flag: string): string {
  if (BOOLEAN_FLAGS.has(flag)) return `--${flag}[=false]`
  return `--${flag} <value>${REPEATABLE_FLAGS.has(flag) ? '...' : ''}`
}
