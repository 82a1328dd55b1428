import { UserError, type Problem } from '../core/errors.js'
import { inputsOf, type InputName, type InputType } from '../core/inputs.js'
import type { InputReader } from '../core/settings.js'

/** The settings flags: the action's inputs, same names (action-interface.md), from the table. */
export const SETTING_FLAGS: readonly InputName[] = inputsOf('cli').map(i => i.name as InputName)

/** Flags that stand alone (`--dry-run`) or take `=true|false`. */
export const BOOLEAN_FLAGS = new Set(flagsOfType('boolean'))
/** Flags given once per line of the input. */
export const REPEATABLE_FLAGS = new Set(flagsOfType('lines'))
/** Flags of the CLI alone. */
export const CLI_FLAGS = new Set(['id', 'json', 'debug', 'help', 'version'])
/** Flags of the CLI alone that take a value: where the outputs and the summary go. */
export const CLI_FILE_FLAGS = {
  'output-file': 'outputFile',
  'summary-file': 'summaryFile',
  'code-quality-file': 'codeQualityFile'
} as const

export const COMMANDS = ['plan', 'build'] as const
export type Command = (typeof COMMANDS)[number]

export interface ParsedArgs {
  command: Command | undefined
  /** Setting flag name to its values (one per occurrence). */
  settings: Map<string, string[]>
  id: boolean
  json: boolean
  debug: boolean
  help: boolean
  version: boolean
  /** --output-file, --summary-file, --code-quality-file as given ('' when not). */
  outputFile: string
  summaryFile: string
  codeQualityFile: string
}

/** Parses `plan|build [--flag value|--flag=value|--bool]...`, reporting every mistake at once. */
export function parseArgs(argv: string[]): ParsedArgs {
  const problems: Problem[] = []
  const parsed: ParsedArgs = {
    command: undefined,
    settings: new Map(),
    id: false,
    json: false,
    debug: false,
    help: false,
    version: false,
    outputFile: '',
    summaryFile: '',
    codeQualityFile: ''
  }
  const known = new Set<string>(SETTING_FLAGS)
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '-h') {
      parsed.help = true
      continue
    }
    if (!arg.startsWith('--')) {
      if (parsed.command === undefined && (COMMANDS as readonly string[]).includes(arg)) {
        parsed.command = arg as Command
      } else if (parsed.command === undefined) {
        problems.push({ message: `unknown command "${arg}" (commands: ${COMMANDS.join(', ')})` })
      } else {
        problems.push({ message: `unexpected argument "${arg}"` })
      }
      continue
    }
    const eq = arg.indexOf('=')
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    const inline = eq < 0 ? undefined : arg.slice(eq + 1)
    const flag = `--${name}`
    if (CLI_FLAGS.has(name)) {
      if (inline !== undefined) {
        problems.push({ input: flag, message: 'takes no value' })
        continue
      }
      parsed[name as 'id' | 'json' | 'debug' | 'help' | 'version'] = true
      continue
    }
    if (name in CLI_FILE_FLAGS) {
      const key = CLI_FILE_FLAGS[name as keyof typeof CLI_FILE_FLAGS]
      const value = inline ?? (i + 1 < argv.length ? (argv[++i] as string) : undefined)
      if (!value) problems.push({ input: flag, message: 'needs a file path' })
      else if (parsed[key]) problems.push({ input: flag, message: 'given more than once' })
      else parsed[key] = value
      continue
    }
    if (!known.has(name)) {
      problems.push({ input: flag, message: 'unknown flag (see --help)' })
      continue
    }
    let value: string
    if (BOOLEAN_FLAGS.has(name)) {
      value = inline ?? 'true'
    } else if (inline !== undefined) {
      value = inline
    } else if (i + 1 < argv.length) {
      value = argv[++i] as string
    } else {
      problems.push({ input: flag, message: 'needs a value' })
      continue
    }
    const values = parsed.settings.get(name) ?? []
    if (values.length > 0 && !REPEATABLE_FLAGS.has(name)) {
      problems.push({ input: flag, message: 'given more than once' })
      continue
    }
    parsed.settings.set(name, [...values, value])
  }
  if (problems.length > 0) throw new UserError(problems)
  return parsed
}

function flagsOfType(type: InputType): string[] {
  return inputsOf('cli')
    .filter(i => i.type === type)
    .map(i => i.name)
}

/** `build-args` to `CONVOX_BUILD_BUILD_ARGS`. */
export function envName(setting: string): string {
  return `CONVOX_BUILD_${setting.toUpperCase().replace(/-/g, '_')}`
}

/** Settings as the core reads them: flags, then CONVOX_BUILD_<NAME>, then '' (the defaults). */
export function settingsReader(
  args: ParsedArgs,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string> = {}
): InputReader {
  return name => {
    if (name in overrides) return overrides[name] as string
    const values = args.settings.get(name)
    if (values) return values.join('\n')
    return env[envName(name)] ?? ''
  }
}
