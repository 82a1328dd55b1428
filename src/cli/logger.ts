import { AsyncLocalStorage } from 'node:async_hooks'
import { formatProblem, type Problem } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { Redactor } from '../core/secrets.js'

export interface CliLogger extends Logger {
  /** Writes a line to stderr, secrets replaced by `***`. */
  line(text: string): void
  /** The text with every masked value replaced by `***` (for stdout too). */
  scrub(text: string): string
}

const ZWSP = '\u200b'
/** Escape sequences a line may open with: colours, Buildkite's timestamps (`ESC _bk;t=…BEL`). */
// eslint-disable-next-line no-control-regex -- the escapes are what it matches
const LEADING_ESCAPES = /^(?:\x1b\[[0-9;?]*[A-Za-z]|\x1b_[^\x07]*\x07)*/

/**
 * Text as plain lines on any CI: nothing in it opens a Buildkite group (`--- `, `+++ `, `~~~ `,
 * `^^^ +++` at a line start), a GitLab section (`section_start:` … anywhere) or a GitHub
 * workflow command (`::name::` at a line start after blanks, `##[name]` anywhere). A zero-width
 * space breaks each marker: the line reads the same.
 */
export function inertLines(text: string): string {
  // a lone CR ends a line too (.NET's ReadLine, terminals)
  return text
    .split(/(\r\n|\r|\n)/)
    .map((line, i) => {
      if (i % 2 === 1) return line
      const lead = LEADING_ESCAPES.exec(line)?.[0] ?? ''
      const rest = line.slice(lead.length)
      const marker = /^(?:---|\+\+\+|~~~|\^\^\^)/.test(rest) || /^[\s\u0085]*::/.test(rest)
      return (marker ? ZWSP : '') + line
    })
    .join('')
    .replace(/section_(start|end):/g, `section_${ZWSP}$1:`)
    .replace(/##\[/g, `##${ZWSP}[`)
}

/**
 * Logger on stderr: groups as `==> title`, and lines of a group running beside another one
 * (concurrent builds) prefixed with `[title]`. There is no runner to mask secrets: it scrubs
 * them itself.
 */
export function createCliLogger(
  write: (text: string) => void = t => process.stderr.write(t),
  options: { debug?: boolean; secrets?: Redactor } = {}
): CliLogger {
  const secrets = options.secrets ?? new Redactor()
  const scope = new AsyncLocalStorage<string>()
  let openGroups = 0
  const scrub = (text: string): string => secrets.redact(text)
  const line = (text: string): void => {
    const title = scope.getStore()
    const body = title ? text.replace(/^/gm, `[${title}] `) : text
    write(inertLines(scrub(body)) + '\n')
  }
  return {
    line,
    scrub,
    info: line,
    debug: message => {
      if (options.debug) line(`debug: ${message}`)
    },
    warning: (message, where) => line(`warning: ${formatCliProblem({ ...where, message })}`),
    mask: secret => secrets.add(secret),
    group: async (title, fn) => {
      line(`==> ${title}`)
      openGroups++
      try {
        // Alone, a group's lines need no prefix; beside another, they do.
        return openGroups > 1 || scope.getStore() ? await scope.run(title, fn) : await fn()
      } finally {
        openGroups--
      }
    }
  }
}

/** A problem as the CLI prints it: `file:line:col: message`, or `--flag: message`. */
export function formatCliProblem(p: Problem): string {
  if (p.file) return formatProblem(p)
  if (p.input) {
    const flag = p.input.startsWith('--') ? p.input : `--${p.input}`
    return `${flag}${p.line !== undefined ? ` (line ${p.line})` : ''}: ${p.message}`
  }
  return p.message
}
