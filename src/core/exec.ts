import { spawn } from 'node:child_process'

export interface ExecOptions {
  cwd?: string
  /** Full environment for the child; defaults to process.env. */
  env?: NodeJS.ProcessEnv
  input?: string | Buffer
  /** Called with each line of stdout / stderr as it arrives (without the newline). */
  onStdoutLine?: (line: string) => void
  onStderrLine?: (line: string) => void
  /** Kills the process (SIGTERM, then SIGKILL) when aborted. */
  signal?: AbortSignal
}

export interface ExecResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** Runs a program without a shell. Never throws for a non-zero exit: callers decide. */
export type Exec = (command: string, args: string[], options?: ExecOptions) => Promise<ExecResult>

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n').trim()
}

/** Process groups of the children still running: killed if this process exits before them. */
const running = new Set<number>()
let exitHook = false
function track(pid: number | undefined): void {
  if (!pid) return
  running.add(pid)
  if (exitHook) return
  exitHook = true
  // A second Ctrl-C exits at once: the detached groups would outlive it.
  process.on('exit', () => {
    for (const p of running) {
      try {
        process.kill(-p, 'SIGKILL')
      } catch {
        // gone already
      }
    }
  })
}

export const spawnExec: Exec = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so an abort also ends its children (docker's buildx plugin).
      detached: true
    })
    track(child.pid)
    const out: Buffer[] = []
    const err: Buffer[] = []
    const stdoutLines = lineSplitter(options.onStdoutLine)
    const stderrLines = lineSplitter(options.onStderrLine)
    child.stdout.on('data', (b: Buffer) => {
      out.push(b)
      stdoutLines.push(b)
    })
    child.stderr.on('data', (b: Buffer) => {
      err.push(b)
      stderrLines.push(b)
    })
    let killTimer: NodeJS.Timeout | undefined
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid) process.kill(-child.pid, signal)
      } catch {
        child.kill(signal)
      }
    }
    const onAbort = (): void => {
      killGroup('SIGTERM')
      killTimer = setTimeout(() => killGroup('SIGKILL'), 5000)
      killTimer.unref()
    }
    if (options.signal?.aborted) onAbort()
    else options.signal?.addEventListener('abort', onAbort, { once: true })
    child.on('error', e => {
      options.signal?.removeEventListener('abort', onAbort)
      reject(
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`${command}: not found on PATH`)
          : e
      )
    })
    child.on('close', (code, sig) => {
      if (child.pid) running.delete(child.pid)
      options.signal?.removeEventListener('abort', onAbort)
      if (killTimer) clearTimeout(killTimer)
      stdoutLines.end()
      stderrLines.end()
      resolve({
        exitCode: code ?? (sig ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8')
      })
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
  })

function lineSplitter(onLine?: (line: string) => void): {
  push: (b: Buffer) => void
  end: () => void
} {
  let rest = ''
  return {
    push(b) {
      if (!onLine) return
      const parts = (rest + b.toString('utf8')).split('\n')
      rest = parts.pop() ?? ''
      for (const p of parts) onLine(p.replace(/\r$/, ''))
    },
    end() {
      if (onLine && rest) onLine(rest)
      rest = ''
    }
  }
}
