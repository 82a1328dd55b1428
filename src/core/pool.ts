// The one worker pool: blob copies, builds and copies of image services, each at most `limit`
// at once.

/** Runs fn on every item, at most `limit` at once; once `signal` aborts, no new item starts. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (!signal?.aborted && next < items.length) await fn(items[next++] as T)
  }
  const workers = Math.max(1, Math.min(limit, items.length))
  await Promise.all(Array.from({ length: workers }, worker))
}
