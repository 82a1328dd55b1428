/** Where a problem is: a file position, or an input (action input / CLI flag). */
export interface Problem {
  message: string
  /** Path relative to the working directory (or as the user gave it). */
  file?: string
  line?: number
  col?: number
  /** The input the problem is about, e.g. `build-args`. */
  input?: string
  /** A short name for the annotation's title, e.g. a build check's rule. */
  title?: string
}

/**
 * The exit codes of a failed run, by what went wrong (README "Exit codes", `--help`). A signal
 * exits with 128 + its number (130 SIGINT, 143 SIGTERM: core/interrupt.ts).
 */
export const EXIT_CODES = {
  /** A mistake in the input, the manifest or a file the user gives; also any unexpected error. */
  user: 1,
  /** A build that ran and failed (BuildKit's error), or a build a fan-out's leg failed. */
  build: 2,
  /** A registry or the rack failed, refused, or gave up after its retries or its time. */
  remote: 3
} as const

/**
 * A failure reported as its problems, one line each, never with a stack: a user's mistake, or a
 * build of the user's code that failed.
 */
export abstract class ReportedError extends Error {
  readonly problems: Problem[]
  abstract readonly exitCode: number

  constructor(problems: Problem[] | Problem | string) {
    const list =
      typeof problems === 'string'
        ? [{ message: problems }]
        : Array.isArray(problems)
          ? problems
          : [problems]
    super(list.map(formatProblem).join('\n'))
    this.problems = list
  }
}

/**
 * A mistake the user can fix: reported as annotations / `file:line:col: message`, never with a
 * stack trace. Exit code 1.
 */
export class UserError extends ReportedError {
  readonly exitCode: number = EXIT_CODES.user

  constructor(problems: Problem[] | Problem | string) {
    super(problems)
    this.name = 'UserError'
  }
}

/**
 * A build that ran and failed, or whose images a fan-out's finish does not find because its leg
 * failed: reported like a user's mistake (the cause is usually in the user's code). Exit code 2.
 */
export class BuildError extends ReportedError {
  readonly exitCode: number = EXIT_CODES.build

  constructor(problems: Problem[] | Problem | string) {
    super(problems)
    this.name = 'BuildError'
  }
}

/**
 * A remote side that failed: a registry or the rack refused a call, answered what it must not,
 * did not answer in time, or still failed after the retries. One line (`error: ...`). Exit code 3.
 */
export class RemoteError extends Error {
  readonly exitCode: number = EXIT_CODES.remote

  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'RemoteError'
  }
}

/** `file:line:col: message`, `input "x" line n: message`, or the bare message. */
export function formatProblem(p: Problem): string {
  if (p.file) {
    const pos = [p.file, p.line, p.line !== undefined ? p.col : undefined]
      .filter(v => v !== undefined)
      .join(':')
    return `${pos}: ${p.message}`
  }
  if (p.input) {
    return `input "${p.input}"${p.line !== undefined ? ` line ${p.line}` : ''}: ${p.message}`
  }
  return p.message
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError
}

/** Reported as its problems, without a stack: a UserError or a BuildError. */
export function isReported(e: unknown): e is ReportedError {
  return e instanceof ReportedError
}

/** The exit code of a failed run's error: its kind's, else 1 (an unexpected error). */
export function exitCodeOf(e: unknown): number {
  return e instanceof ReportedError || e instanceof RemoteError ? e.exitCode : EXIT_CODES.user
}
