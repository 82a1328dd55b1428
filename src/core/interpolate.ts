// `${VAR}` interpolation of convox.yml, as the rack does it (pkg/manifest/helpers.go): every
// `${...}` up to the first `}` (newlines included) becomes the value of the variable named by
// exactly what is between the braces; an unset variable becomes ''. There is no escape and no
// `${VAR:-default}` form: `${A:-b}` looks up a variable literally named `A:-b`.

/** One `${...}` replaced: where it was in the source and where its value is in the result. */
export interface Replacement {
  /** Exactly what was between the braces. */
  name: string
  /** Offsets of `${...}` in the source text. */
  start: number
  end: number
  /** Offsets of the value in the interpolated text. */
  outStart: number
  outEnd: number
  /** False when the variable is not set (it became ''). */
  set: boolean
}

export interface Interpolated {
  text: string
  replacements: Replacement[]
}

const PATTERN = /\$\{([^}]*)\}/g

export function interpolate(source: string, env: NodeJS.ProcessEnv): Interpolated {
  const replacements: Replacement[] = []
  let text = ''
  let last = 0
  for (const m of source.matchAll(PATTERN)) {
    const start = m.index
    const name = m[1] ?? ''
    text += source.slice(last, start)
    // Only own properties: `${constructor}` must not find Object.prototype.constructor.
    const set = Object.prototype.hasOwnProperty.call(env, name) && env[name] !== undefined
    const value = set ? String(env[name]) : ''
    replacements.push({
      name,
      start,
      end: start + m[0].length,
      outStart: text.length,
      outEnd: text.length + value.length,
      set
    })
    text += value
    last = start + m[0].length
  }
  text += source.slice(last)
  return { text, replacements }
}

/**
 * Maps an offset of the interpolated text back to the source: inside a value, to its `${`.
 * A binary search: positions are mapped once per service and problem, so no scan of them all.
 */
export function sourceOffset(result: Interpolated, offset: number): number {
  const rs = result.replacements
  // The first replacement whose value starts at or after offset.
  const i = firstIndex(rs, r => r.outStart >= offset)
  if (rs[i]?.outStart === offset) return rs[i].start
  const before = rs[i - 1]
  if (!before) return offset
  if (offset < before.outEnd) return before.start
  return offset + before.end - before.outEnd
}

/** The replacements whose value lies in (or, when empty, at) the interpolated range. */
export function replacementsIn(result: Interpolated, start: number, end: number): Replacement[] {
  const rs = result.replacements
  const out: Replacement[] = []
  for (let i = firstIndex(rs, r => r.outEnd >= start); i < rs.length; i++) {
    const r = rs[i]!
    if (r.outStart > end) break
    const inside =
      r.outStart === r.outEnd ? r.outStart >= start : r.outStart < end && r.outEnd > start
    if (inside) out.push(r)
  }
  return out
}

/** The first index where `after` holds (false before it, true from it on); length if none. */
function firstIndex<T>(items: T[], after: (item: T) => boolean): number {
  let lo = 0
  let hi = items.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (after(items[mid]!)) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** A variable name a shell would accept; anything else between the braces is a likely mistake. */
export function isPlainVariableName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
}
