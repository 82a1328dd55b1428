// Ctrl-C, a CI timeout or a cancelled workflow: SIGINT/SIGTERM abort the run's signal, so every
// build, copy, upload and request stops and the pipeline's cleanup runs; the shell then exits with
// 128 + the signal's number. A second signal while cleaning up exits at once.

/** Why a run stopped early, as the AbortSignal's reason. */
export class Cancelled extends Error {
  constructor(readonly signal: NodeJS.Signals | 'unhandled') {
    super(signal === 'unhandled' ? 'stopped after an internal error' : `cancelled by ${signal}`)
    this.name = 'Cancelled'
  }

  /** The exit code a shell uses for this signal (130 for SIGINT, 143 for SIGTERM). */
  get exitCode(): number {
    if (this.signal === 'SIGINT') return 130
    if (this.signal === 'SIGTERM') return 143
    return 1
  }
}

export interface Interrupts {
  signal: AbortSignal
  /** The reason the run was stopped, once it was. */
  reason(): Cancelled | undefined
  /** Stops listening (the process keeps its default handlers again). */
  dispose(): void
}

/**
 * Listens for SIGINT/SIGTERM and for errors nothing awaited (an unhandled rejection stops the
 * run rather than leaving it half-done). `onSecond` runs on a second signal (default: exit now).
 */
export function watchInterrupts(
  options: { onSecond?: (signal: NodeJS.Signals) => void; report?: (e: unknown) => void } = {}
): Interrupts {
  const controller = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      ;(options.onSecond ?? (s => process.exit(new Cancelled(s).exitCode)))(signal)
      return
    }
    controller.abort(new Cancelled(signal))
  }
  const onUnhandled = (e: unknown): void => {
    options.report?.(e)
    if (!controller.signal.aborted) controller.abort(new Cancelled('unhandled'))
  }
  const sigint = (): void => onSignal('SIGINT')
  const sigterm = (): void => onSignal('SIGTERM')
  process.on('SIGINT', sigint)
  process.on('SIGTERM', sigterm)
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtException', onUnhandled)
  return {
    signal: controller.signal,
    reason: () =>
      controller.signal.aborted && controller.signal.reason instanceof Cancelled
        ? controller.signal.reason
        : undefined,
    dispose: () => {
      process.off('SIGINT', sigint)
      process.off('SIGTERM', sigterm)
      process.off('unhandledRejection', onUnhandled)
      process.off('uncaughtException', onUnhandled)
    }
  }
}

/** Throws the run's Cancelled reason when the signal was aborted (between two steps). */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new Cancelled('SIGTERM')
  }
}
