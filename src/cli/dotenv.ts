// The run's outputs as a dotenv file (a GitLab `artifacts:reports:dotenv` report) for the CLI's
// --output-file.
import type { Redactor } from '../core/secrets.js'

/** GitLab's default limit on a dotenv report (`dotenv_size`); larger reports are rejected. */
export const DOTENV_LIMIT = 5 * 1024

/** `build-id` → `BUILD_ID`: dotenv names are letters, digits and `_`. */
function dotenvName(output: string): string {
  return output.toUpperCase().replace(/[^A-Z0-9]+/g, '_')
}

/** Dropped first when the file would pass GitLab's limit: the largest, least needed later. */
const DROP_ORDER = ['plan', 'images', 'digests', 'reused', 'matrix']

interface Dotenv {
  text: string
  /** Outputs left out, each with why (logged as warnings). */
  omitted: string[]
}

/**
 * `NAME=value` lines that GitLab's dotenv report and the dotenv package read alike: GitLab keeps
 * quotes as they are and takes no escapes, comments or newlines, and the dotenv package ends an
 * unquoted value at `#`; so values are never quoted, and in JSON `#` and `$` are written as
 * `\u0023`, `\u0024` (the same JSON, and no expansion where a variable is used). A value that
 * cannot be written so (a path with a newline or `#`) is left out. Secrets are redacted.
 */
export function formatDotenv(outputs: Record<string, string>, secrets: Redactor): Dotenv {
  const omitted: string[] = []
  const lines = new Map<string, string>()
  for (const [name, raw] of Object.entries(outputs)) {
    let value = secrets.redact(raw)
    if (/^[[{]/.test(value)) value = value.replace(/#/g, '\\u0023').replace(/\$/g, '\\u0024')
    if (/[\r\n#]/.test(value) || /^\s|\s$|^['"`]/.test(value)) {
      omitted.push(`${name}: its value cannot be written as a dotenv value (newline, "#", quote)`)
      continue
    }
    lines.set(name, `${dotenvName(name)}=${value}`)
  }
  const size = (): number => [...lines.values()].reduce((n, l) => n + Buffer.byteLength(l) + 1, 0)
  for (const name of DROP_ORDER) {
    if (size() <= DOTENV_LIMIT) break
    const line = lines.get(name)
    if (line === undefined) continue
    lines.delete(name)
    omitted.push(
      `${name}: left out (${Buffer.byteLength(line)} bytes), GitLab takes dotenv reports of ${DOTENV_LIMIT} bytes at most; --json prints it`
    )
  }
  const text = [...lines.values()].map(l => `${l}\n`).join('')
  return { text, omitted }
}
