// Reading what a CI hands over: its variables, clone URLs and GitHub's event payload.

/** The first line of a commit message, trimmed. */
export const firstLine = (s: string | undefined): string =>
  (s ?? '').split(/\r?\n/)[0]?.trim() ?? ''

/** `refs/heads/x` → `x`. */
export const shortRef = (s: string | undefined): string => (s ?? '').replace(/^refs\/heads\//, '')

/** `a/b/c` from a clone URL (`git@host:a/b/c.git`, `https://host/a/b/c.git`). */
export function slugOf(url: string | undefined): string {
  if (!url) return ''
  const ssh = /^[^@/]+@[^:/]+:(?:\d+\/)?(.+?)(?:\.git)?\/?$/.exec(url)
  if (ssh) return ssh[1] ?? ''
  try {
    return new URL(url).pathname.replace(/^\/+/, '').replace(/(?:\.git)?\/?$/, '')
  } catch {
    return ''
  }
}

/** The value at `keys` in a parsed JSON document; undefined where the path ends early. */
export function pick(obj: unknown, ...keys: string[]): unknown {
  let v = obj
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[k]
  }
  return v
}

/** A string or number as text; '' for anything else. */
export const str = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' ? String(v) : ''
