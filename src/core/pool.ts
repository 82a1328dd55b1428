// The one worker pool: blob copies, builds and copies of image services, each at most `limit`
// at once.

/**
 * Runs fn on every item, at most `limit` at once. Once `signal` aborts or an item fails, no new
 * item starts; it resolves when the items started have ended, with the first failure.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal
): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (!signal?.aborted && !failure && next < items.length) {
      try {
        await fn(items[next++] as T)
      } catch (e) {
        failure ??= { error: e }
      }
    }
  }
  const workers = Math.max(1, Math.min(limit, items.length))
  await Promise.all(Array.from({ length: workers }, worker))
  if (failure) throw failure.error
}
