import type { Problem } from './errors.js'

/**
 * How the core talks to the person watching. The action maps this to @actions/core (groups,
 * annotations, masks); the CLI to prefixed lines on stderr.
 */
export interface Logger {
  info(message: string): void
  debug(message: string): void
  /** A warning; shown as an annotation where the shell supports it. */
  warning(message: string, where?: Omit<Problem, 'message'>): void
  /** Something the run did not do, said once (action: a notice annotation); else info. */
  notice?(message: string): void
  /** Never print this value (action: core.setSecret). Call before the value can be logged. */
  mask(secret: string): void
  /** Run fn with its output grouped under a title (action: core.group). */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>
}

/** A logger that drops everything: for unit tests and dry code paths. */
export const silentLogger: Logger = {
  info: () => undefined,
  debug: () => undefined,
  warning: () => undefined,
  mask: () => undefined,
  group: (_title, fn) => fn()
}
