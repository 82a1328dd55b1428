/** Where a problem is: a file position, or an input (action input / CLI flag). */
export interface Problem {
  message: string
  /** Path relative to the working directory (or as the user gave it). */
  file?: string
  line?: number
  col?: number
  /** The input the problem is about, e.g. `build-args`. */
  input?: string
}

/**
 * A mistake the user can fix: reported as annotations / `file:line:col: message`, never with a
 * stack trace. Everything else that is thrown is a bug or an environment failure.
 */
export class UserError extends Error {
  readonly problems: Problem[]

  constructor(problems: Problem[] | Problem | string) {
    const list =
      typeof problems === 'string'
        ? [{ message: problems }]
        : Array.isArray(problems)
          ? problems
          : [problems]
    super(list.map(formatProblem).join('\n'))
    this.name = 'UserError'
    this.problems = list
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
