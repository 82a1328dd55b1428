// yaml.v2's decoding of values into Go types (decode.go: scalar, sequence, mapping,
// mappingStruct, mappingSlice, merge), over the values of yaml.ts. Type mismatches are collected
// (yaml.v2's terrors), failures of custom UnmarshalYAML methods too: the rack fails on either.
import {
  isNull,
  LIMITS,
  remarshalScalar,
  type GEntry,
  type GMap,
  type GScalar,
  type GVal
} from './yaml.js'

export interface DecodeProblem {
  at: number
  message: string
}

export type GoType =
  | { k: 'string' }
  | { k: 'int'; bits: 32 | 64; name?: string }
  | { k: 'float' }
  | { k: 'bool' }
  | { k: 'ptr'; elem: GoType }
  | { k: 'slice'; elem: GoType; name?: string }
  | { k: 'map'; elem: GoType; name: string }
  | { k: 'struct'; name: string; fields: Record<string, GoType> }
  | {
      k: 'custom'
      name: string
      decode: (v: GVal, d: Decoder, path: string) => unknown
      /** Its UnmarshalYAML appends to what the value holds (MapSlices, Environment). */
      appends?: boolean
    }
  | { k: 'any' }

export const STRING: GoType = { k: 'string' }
export const INT: GoType = { k: 'int', bits: 64 }
export const INT32: GoType = { k: 'int', bits: 32 }
export const FLOAT: GoType = { k: 'float' }
export const BOOL: GoType = { k: 'bool' }
export const STRINGS: GoType = { k: 'slice', elem: STRING }
export const ptr = (elem: GoType): GoType => ({ k: 'ptr', elem })
export const slice = (elem: GoType, name?: string): GoType => ({ k: 'slice', elem, name })
export const struct = (name: string, fields: Record<string, GoType>): GoType => ({
  k: 'struct',
  name,
  fields
})
export const stringMap = (name: string): GoType => ({ k: 'map', elem: STRING, name })

export type Rec = Record<string, unknown>

/** Decoded structs keep the offsets of their values under this key (`#name`: of the key). */
export const AT = '@'

/** Stops alias bombs: yaml.v2 fails on "excessive aliasing"; we count decode steps. */
const MAX_STEPS = 2_000_000

export class Decoder {
  readonly problems: DecodeProblem[] = []
  private steps = 0
  private exhausted = false

  fail(at: number, message: string): void {
    this.problems.push({ at, message })
  }

  step(at: number): boolean {
    if (++this.steps <= MAX_STEPS) return true
    if (!this.exhausted) this.fail(at, 'document contains excessive aliasing')
    this.exhausted = true
    return false
  }

  /** yaml.v2's terror: `cannot unmarshal !!tag `value` into T`. */
  typeError(v: GVal, into: string, path: string): void {
    this.fail(v.at, `${path}: cannot unmarshal ${describe(v)} into ${into}`)
  }

  decode(v: GVal, t: GoType, path: string): unknown {
    if (!this.step(v.at)) return undefined
    // prepare(): a null leaves the zero value and calls no UnmarshalYAML.
    if (isNull(v)) return undefined
    switch (t.k) {
      case 'ptr':
        return this.decode(v, t.elem, path)
      case 'custom':
        return t.decode(v, this, path)
      case 'any':
        return v
      case 'string':
        if (v.kind === 'map' || v.kind === 'seq') return this.typeError(v, 'string', path)
        return v.text
      case 'int':
        return this.int(v, t.bits, path, t.name)
      case 'float':
        if (v.kind === 'int') return Number(v.int)
        if (v.kind === 'float') return v.float
        return this.typeError(v, 'float64', path)
      case 'bool':
        if (v.kind === 'bool') return v.bool
        return this.typeError(v, 'bool', path)
      case 'slice': {
        if (v.kind !== 'seq') return this.typeError(v, t.name ?? `[]${typeName(t.elem)}`, path)
        const out: unknown[] = []
        v.items.forEach((item, i) => {
          const before = this.problems.length
          const x = this.decode(item, t.elem, `${path}[${i}]`)
          if (this.problems.length === before) out.push(x)
        })
        return out
      }
      case 'map': {
        if (v.kind !== 'map') return this.typeError(v, t.name, path)
        const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>
        this.entries(v, path, (key, value) => {
          if (key.kind === 'map' || key.kind === 'seq') return this.typeError(key, 'string', path)
          const x = this.decode(value, t.elem, `${path}.${key.text}`)
          out[key.text] = x ?? ''
        })
        return out
      }
      case 'struct': {
        if (v.kind !== 'map') return this.typeError(v, t.name, path)
        const pos: Record<string, number> = { '': v.at }
        const out: Rec = { [AT]: pos }
        this.entries(v, path, (key, value) => {
          if (key.kind === 'map' || key.kind === 'seq') return this.typeError(key, 'string', path)
          const name = key.kind === 'null' ? '' : key.text
          const ft = Object.prototype.hasOwnProperty.call(t.fields, name)
            ? t.fields[name]
            : undefined
          if (!ft) return
          pos[name] = value.at
          pos['#' + name] = key.at
          const next = this.decode(value, ft, `${path}.${name}`)
          // A key given again decodes into what the first one left (decode.go unmarshal).
          out[name] = Object.hasOwn(out, name) ? decodeAgain(ft, out[name], next) : next
        })
        return out
      }
    }
  }

  private int(v: GVal, bits: 32 | 64, path: string, name?: string): number | undefined {
    const into = name ?? (bits === 32 ? 'int32' : 'int')
    const max = bits === 32 ? 2 ** 31 - 1 : Number(LIMITS.INT64_MAX)
    const min = bits === 32 ? -(2 ** 31) : -Number(LIMITS.INT64_MAX) - 1
    if (v.kind === 'int' && v.int !== undefined) {
      const big = bits === 32 ? BigInt(2 ** 31 - 1) : LIMITS.INT64_MAX
      if (v.int <= big && v.int >= -big - 1n) return Number(v.int)
    } else if (v.kind === 'float' && v.float !== undefined && !Number.isNaN(v.float)) {
      // decode.go scalar: a float goes into an int field, truncated, when it fits.
      const f = Math.trunc(v.float)
      if (v.float <= max && f >= min && Number.isFinite(f)) return f
      if (v.float === -Infinity) return min
    }
    this.typeError(v, into, path)
    return undefined
  }

  /** Map entries in order with `<<` merges expanded in place (decode.go merge). */
  entries(
    v: GMap,
    path: string,
    each: (key: GVal, value: GVal) => void,
    depth = 0,
    marshalled = false
  ): void {
    for (const e of v.entries) {
      // Once marshalled again, a quoted "<<" key is written plain: a merge key.
      const merge = e.merge || (marshalled && e.key.kind === 'str' && e.key.text === '<<')
      if (!merge) {
        each(e.key, e.value)
        continue
      }
      for (const src of this.mergeSources(e, path)) {
        if (depth < 50) this.entries(src, path, each, depth + 1, marshalled)
      }
    }
  }

  /** The maps a merge key brings in, later ones first as yaml.v2 applies them; fails on others. */
  mergeSources(e: GEntry, path: string): GMap[] {
    const v = e.value
    if (v.kind === 'map') return [v]
    if (v.kind === 'seq' && v.items.every(i => i.kind === 'map')) {
      return [...(v.items as GMap[])].reverse()
    }
    this.fail(e.key.at, `${path}: map merge requires map or sequence of maps as the value`)
    return []
  }

  /** Unmarshalling into interface{}: a map's last value per key, merges expanded. */
  generic(v: GMap, path: string): Map<string, GVal> {
    const out = new Map<string, GVal>()
    for (const [id, e] of this.lastEntries(v, path, { strict: true })) out.set(id, e.value)
    return out
  }

  /**
   * A map's last entry per key (by keyId), merges expanded, in the order of those last entries.
   * Map and seq keys fail when `strict`, else are left out; `value` maps every value met.
   */
  lastEntries(
    v: GMap,
    path: string,
    o: { strict?: boolean; marshalled?: boolean; value?: (v: GVal) => GVal } = {}
  ): Map<string, { key: GScalar; value: GVal }> {
    const out = new Map<string, { key: GScalar; value: GVal }>()
    this.entries(
      v,
      path,
      (key, value) => {
        if (key.kind === 'map' || key.kind === 'seq') {
          if (o.strict) this.fail(key.at, `${path}: invalid map key`)
          return
        }
        const id = keyId(key)
        out.delete(id)
        out.set(id, { key, value: o.value ? o.value(value) : value })
      },
      0,
      o.marshalled
    )
    return out
  }
}

/**
 * A struct field's value when its key is given again: yaml.v2 decodes the second value into the
 * field as the first left it. A null sets the zero value; a map adds its keys; a struct sets the
 * fields it gives; an UnmarshalYAML that appends (MapSlices, Environment) appends; anything else
 * (slices, scalars) is replaced.
 */
export function decodeAgain(t: GoType, prev: unknown, next: unknown): unknown {
  if (next === undefined || prev === undefined) return next
  switch (t.k) {
    case 'ptr':
      return decodeAgain(t.elem, prev, next)
    case 'custom':
      return t.appends && Array.isArray(prev) && Array.isArray(next) ? [...prev, ...next] : next
    case 'map':
      return Object.assign(Object.create(null) as Rec, prev, next)
    case 'struct': {
      const p = prev as Rec
      const n = next as Rec
      const out: Rec = { ...p, [AT]: { ...(p[AT] as object), ...(n[AT] as object) } }
      for (const k of Object.keys(n)) {
        const ft = Object.hasOwn(t.fields, k) ? t.fields[k] : undefined
        if (ft) out[k] = Object.hasOwn(p, k) ? decodeAgain(ft, p[k], n[k]) : n[k]
      }
      return out
    }
    default:
      return next
  }
}

/** Identity of a key in a map[interface{}]interface{}: its Go type and value. */
function keyId(k: GScalar): string {
  switch (k.kind) {
    case 'str':
      return 's:' + k.text
    case 'int':
      return 'i:' + String(k.int)
    case 'float':
      return 'f:' + String(k.float)
    case 'bool':
      return 'b:' + String(k.bool)
    case 'null':
      return 'n:'
  }
}

export function str(key: string): string {
  return 's:' + key
}

function describe(v: GVal): string {
  if (v.kind === 'map') return '!!map'
  if (v.kind === 'seq') return '!!seq'
  const text = v.text.length > 10 ? v.text.slice(0, 7) + '...' : v.text
  return `${v.tag} \`${text}\``
}

function typeName(t: GoType): string {
  switch (t.k) {
    case 'string':
      return 'string'
    case 'int':
      return t.bits === 32 ? 'int32' : 'int'
    case 'float':
      return 'float64'
    case 'bool':
      return 'bool'
    case 'ptr':
      return '*' + typeName(t.elem)
    case 'slice':
      return t.name ?? '[]' + typeName(t.elem)
    case 'map':
    case 'struct':
    case 'custom':
      return t.name
    case 'any':
      return 'interface {}'
  }
}

/**
 * remarshal (yaml.go): the value yaml.v2 decoded (maps as MapSlice: merge keys dropped, after
 * their values were checked) marshalled and read back. Scalars take their marshalled text (`1.10`
 * becomes `1.1`, `010` becomes `8`), and a `<<` key that was quoted is now a merge key.
 */
export function remarshal(v: GVal, d: Decoder, path: string, depth = 0): GVal {
  if (!d.step(v.at) || depth > 200) return { kind: 'null', text: 'null', tag: '!!null', at: v.at }
  if (v.kind === 'seq') return { ...v, items: v.items.map(i => remarshal(i, d, path, depth + 1)) }
  if (v.kind !== 'map') return remarshalScalar(v)
  const entries: GEntry[] = []
  for (const e of v.entries) {
    if (e.merge) {
      d.mergeSources(e, path)
      continue
    }
    const key = remarshal(e.key, d, path, depth + 1)
    const value = remarshal(e.value, d, path, depth + 1)
    entries.push({ key, value, merge: key.kind === 'str' && key.text === '<<' })
  }
  return { ...v, entries }
}

/**
 * A value an UnmarshalYAML method decoded into interface{} and hands to remarshal again: merges
 * expanded at every level (the last value per key), scalars as marshalled.
 */
export function expand(v: GVal, d: Decoder, path: string, depth = 0): GVal {
  if (!d.step(v.at) || depth > 200) return { kind: 'null', text: 'null', tag: '!!null', at: v.at }
  if (v.kind === 'seq') return { ...v, items: v.items.map(i => expand(i, d, path, depth + 1)) }
  if (v.kind !== 'map') return remarshalScalar(v)
  const last = d.lastEntries(v, path, { value: x => expand(x, d, path, depth + 1) })
  const entries = [...last.values()].map(e => ({
    key: remarshalScalar(e.key),
    value: e.value,
    merge: false
  }))
  return { ...v, entries }
}
