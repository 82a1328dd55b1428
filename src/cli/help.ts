import { EXIT_CODES } from '../core/errors.js'
import { inputRow } from '../core/inputs.js'
import { envName, SETTING_FLAGS, BOOLEAN_FLAGS, REPEATABLE_FLAGS } from './args.js'

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
    ...SETTING_FLAGS.map(f => `  ${usage(f).padEnd(width)}  ${inputRow(f).help}`),
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
