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

/** Maps an offset of the interpolated text back to the source: inside a value, to its `${`. */
export function sourceOffset(result: Interpolated, offset: number): number {
  let delta = 0
  for (const r of result.replacements) {
    if (offset < r.outStart) break
    if (offset === r.outStart || offset < r.outEnd) return r.start
    delta = r.end - r.outEnd
  }
  return offset + delta
}

/** The replacements whose value lies in (or, when empty, at) the interpolated range. */
export function replacementsIn(result: Interpolated, start: number, end: number): Replacement[] {
  return result.replacements.filter(r =>
    r.outStart === r.outEnd
      ? r.outStart >= start && r.outStart <= end
      : r.outStart < end && r.outEnd > start
  )
}

/** A variable name a shell would accept; anything else between the braces is a likely mistake. */
export function isPlainVariableName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
}
