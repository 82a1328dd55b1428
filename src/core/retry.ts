// The one retry policy of the run's clients (registry, rack): a few attempts more, backing off
// from half a second, doubling, randomized, stopped by the run's signal. What may be sent again
// is each client's call: shouldRetry.
import pRetry, { type Options } from 'p-retry'

export const RETRIES = 4
const RETRY_DELAY_MS = 500
const MAX_RETRY_DELAY_MS = 4000

export type RetryOptions = Pick<
  Options,
  'retries' | 'minTimeout' | 'maxTimeout' | 'shouldRetry' | 'onFailedAttempt' | 'signal'
>

/**
 * `fn` with the policy; `options` override its numbers and say what is worth another try. An
 * option given as undefined keeps the policy's value.
 */
export function withRetries<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const given = Object.fromEntries(
    Object.entries(options).filter(([, v]) => v !== undefined)
  ) as RetryOptions
  return pRetry(fn, {
    retries: RETRIES,
    factor: 2,
    minTimeout: RETRY_DELAY_MS,
    maxTimeout: MAX_RETRY_DELAY_MS,
    randomize: true,
    ...given
  })
}
