// The run's outputs, named as action.yml names them, and the same outputs as a dotenv file (a
// GitLab `artifacts:reports:dotenv` report) for the CLI's --output-file.
import type { PipelineResult } from './pipeline.js'
import type { Redactor } from './secrets.js'

/** Output names of action.yml that every shell sets, to their string values. */
export type ResultOutputs = Record<
  'build-id' | 'release-id' | 'images' | 'digests' | 'plan' | 'export-path' | 'reused' | 'matrix',
  string
>

/** The outputs of a run, as strings (JSON on one line for the structured ones). */
export function resultOutputs(result: PipelineResult): ResultOutputs {
  return {
    'build-id': result.buildId,
    'release-id': result.releaseId,
    images: JSON.stringify(result.images),
    digests: JSON.stringify(result.digests),
    plan: JSON.stringify(result.plan),
    'export-path': result.exportPath,
    reused: JSON.stringify(
      Object.fromEntries(result.services.filter(s => s.reusedFrom).map(s => [s.name, s.reusedFrom]))
    ),
    matrix: JSON.stringify(result.matrix)
  }
}

/** GitLab's default limit on a dotenv report (`dotenv_size`); larger reports are rejected. */
export const DOTENV_LIMIT = 5 * 1024

/** `build-id` → `BUILD_ID`: dotenv names are letters, digits and `_`. */
export function dotenvName(output: string): string {
  return output.toUpperCase().replace(/[^A-Z0-9]+/g, '_')
}

/** Dropped first when the file would pass GitLab's limit: the largest, least needed later. */
const DROP_ORDER = ['plan', 'images', 'digests', 'reused', 'matrix']

export interface Dotenv {
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
