// A Logger that records every line, warning and masked value, for unit and rig tests.
import type { Problem } from '../../src/core/errors.js'
import type { Logger } from '../../src/core/log.js'
import { Redactor } from '../../src/core/secrets.js'

export interface CapturedLog {
  logger: Logger
  /** Every line as the core gave it (info, debug, warnings, group titles), unmasked. */
  lines: string[]
  warnings: { message: string; where?: Omit<Problem, 'message'> }[]
  /** Values handed to mask(), in order. */
  masked: string[]
  /** The redactor behind mask() (a run's `secrets`). */
  secrets: Redactor
  /** All lines, unmasked, joined. */
  text(): string
  /** All lines as the runner would print them: masked values replaced by `***`. */
  rendered(): string
}

export function captureLogger(secrets: Redactor = new Redactor()): CapturedLog {
  const lines: string[] = []
  const warnings: CapturedLog['warnings'] = []
  const masked: string[] = []
  const logger: Logger = {
    info: m => void lines.push(m),
    debug: m => void lines.push(`debug: ${m}`),
    warning: (message, where) => {
      warnings.push({ message, where })
      lines.push(`warning: ${message}`)
    },
    mask: s => {
      masked.push(s)
      secrets.add(s)
    },
    group: async (title, fn) => {
      lines.push(`::group::${title}`)
      try {
        return await fn()
      } finally {
        lines.push('::endgroup::')
      }
    }
  }
  return {
    logger,
    lines,
    warnings,
    masked,
    secrets,
    text: () => lines.join('\n'),
    rendered: () => secrets.redact(lines.join('\n'))
  }
}
