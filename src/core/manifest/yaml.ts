// YAML values as the rack's gopkg.in/yaml.v2 sees them. The text is parsed with `yaml` (for its
// positions and syntax errors); every scalar is then resolved again with yaml.v2's own rules
// (resolve.go resolve: YAML 1.1 booleans such as `on`/`y`, `010` octal, `1_000`, `0b11`, floats
// only of yamlStyleFloat's shape) and maps keep their entries in order, `<<` merge keys marked.
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  Scalar,
  visit,
  type Alias,
  type Document,
  type Node
} from 'yaml'

export type ScalarKind = 'str' | 'int' | 'float' | 'bool' | 'null'

export interface GScalar {
  kind: ScalarKind
  /** What yaml.v2 keeps as the node's value: the text, as written (or as marshalled again). */
  text: string
  /** Short tag for messages: !!str, !!int, !!float, !!bool, !!null, !!timestamp. */
  tag: string
  /** int: the integer (int64 or uint64 range); float: the number; bool: the boolean. */
  int?: bigint
  float?: number
  bool?: boolean
  /** Offset in the interpolated text. */
  at: number
}

export interface GEntry {
  key: GVal
  value: GVal
  /** A merge key (`<<`, plain or !!merge): its value is merged, not a key of its own. */
  merge: boolean
}

export interface GMap {
  kind: 'map'
  entries: GEntry[]
  at: number
}

export interface GSeq {
  kind: 'seq'
  items: GVal[]
  at: number
}

export type GVal = GScalar | GMap | GSeq

export interface YamlProblem {
  at: number
  message: string
}

export interface ParsedYaml {
  /** null for an empty document. */
  root: GVal | null
  problems: YamlProblem[]
}

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/
const INT64_MAX = (1n << 63n) - 1n
const UINT64_MAX = (1n << 64n) - 1n

// No prototype: `constructor` or `toString` written in a manifest is text, not Object's.
const MAP_VALUES: Record<string, { kind: ScalarKind; bool?: boolean; float?: number }> =
  Object.create(null)
for (const s of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']) {
  MAP_VALUES[s] = { kind: 'bool', bool: true }
}
for (const s of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']) {
  MAP_VALUES[s] = { kind: 'bool', bool: false }
}
for (const s of ['', '~', 'null', 'Null', 'NULL']) MAP_VALUES[s] = { kind: 'null' }
for (const s of ['.nan', '.NaN', '.NAN']) MAP_VALUES[s] = { kind: 'float', float: NaN }
for (const s of ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']) {
  MAP_VALUES[s] = { kind: 'float', float: Infinity }
}
for (const s of ['-.inf', '-.Inf', '-.INF']) MAP_VALUES[s] = { kind: 'float', float: -Infinity }

/** Go's strconv.ParseInt(s, 0, 64) / ParseUint(s, 0, 64), as one: the value or null. */
function parseGoInt(s: string): bigint | null {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s)
  if (!m) return null
  const sign = m[1] === '-' ? -1n : 1n
  let body = m[2] ?? ''
  let v: bigint
  if (/^0[oO]/.test(body)) v = BigInt('0o' + body.slice(2))
  else if (/^0[0-7]+$/.test(body)) v = BigInt('0o' + body.slice(1))
  else {
    if (/^0[XB]/.test(body)) body = '0' + body.slice(1).toLowerCase()
    v = BigInt(body)
  }
  v *= sign
  if (v < -(INT64_MAX + 1n) || v > UINT64_MAX) return null
  if (v < 0n && m[1] !== '-') return null
  if (m[1] === '+' && v > INT64_MAX) return null
  if (m[1] === '-' && v > INT64_MAX) return null
  return v
}

/** A Go-parsable decimal float (strconv.ParseFloat on yamlStyleFloat's shape). */
function parseGoFloat(s: string): number | null {
  if (!YAML_STYLE_FLOAT.test(s)) return null
  return Number(s)
}

/** yaml.v2 resolve() for an untagged plain scalar. */
function resolvePlain(text: string, at: number): GScalar {
  const known = MAP_VALUES[text]
  if (known) {
    return {
      kind: known.kind,
      text,
      tag: '!!' + known.kind,
      at,
      ...(known.bool !== undefined ? { bool: known.bool } : {}),
      ...(known.float !== undefined ? { float: known.float } : {})
    }
  }
  const c = text[0] ?? ''
  const str: GScalar = { kind: 'str', text, tag: '!!str', at }
  if (c === '.') {
    const f = parseGoFloat(text)
    return f === null ? str : { kind: 'float', text, tag: '!!float', float: f, at }
  }
  if (!/[-+0-9]/.test(c)) return str
  if (isTimestamp(text)) return { ...str, tag: '!!timestamp' }
  const plain = text.replace(/_/g, '')
  const i = parseGoInt(plain)
  if (i !== null) return { kind: 'int', text, tag: '!!int', int: i, at }
  const float = parseGoFloat(plain)
  if (float !== null) return { kind: 'float', text, tag: '!!float', float, at }
  const bin = /^(-?)0b([01]+)$/.exec(plain)
  if (bin) {
    const v = BigInt('0b' + bin[2]) * (bin[1] ? -1n : 1n)
    if (v <= UINT64_MAX && v >= -(INT64_MAX + 1n))
      return { kind: 'int', text, tag: '!!int', int: v, at }
  }
  return str
}

/**
 * True when a scalar written so is text to yaml.v2 for sure: of letters, digits and `_ . / : @ + -`
 * only (no tag, anchor, quote, flow or comment) and resolved as a string by its rules.
 */
export function isPlainText(written: string): boolean {
  const t = written.trim()
  return /^[\w./:@+-]+$/.test(t) && resolvePlain(t, 0).kind === 'str'
}

/** yaml.v2 parseTimestamp: the formats it accepts, all starting YYYY-. */
function isTimestamp(s: string): boolean {
  if (!/^[0-9]{4}-/.test(s)) return false
  const date = '([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})'
  const time = '([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(\\.[0-9]+)?'
  const forms = [
    new RegExp(`^${date}[Tt]${time}(Z|[+-][0-9]{2}:[0-9]{2})$`),
    new RegExp(`^${date} ${time}$`),
    new RegExp(`^${date}$`)
  ]
  for (const re of forms) {
    const m = re.exec(s)
    if (!m) continue
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
    if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return false
    if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59))
      return false
    return true
  }
  return false
}

/** Go's strconv.FormatFloat(f, 'g', -1, 64), as yaml.v2's encoder writes floats. */
export function goFloatText(f: number): string {
  if (Number.isNaN(f)) return '.nan'
  if (f === Infinity) return '.inf'
  if (f === -Infinity) return '-.inf'
  if (f === 0) return Object.is(f, -0) ? '-0' : '0'
  const [mant, expText] = f.toExponential().split('e') as [string, string]
  const exp = Number(expText)
  const digits = mant.replace('-', '').replace('.', '')
  // Shortest form: exponent notation below 1e-4 and from 1e6 (ftoa.go, %e when exp >= eprec=6).
  if (exp >= 6 || exp < -4) {
    const e = Math.abs(exp)
    return `${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' + e : e}`
  }
  const sign = f < 0 ? '-' : ''
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`
  const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0')
  const frac = digits.slice(exp + 1)
  return sign + int + (frac ? '.' + frac : '')
}

const TAG_PREFIX = 'tag:yaml.org,2002:'

class Builder {
  readonly problems: YamlProblem[] = []
  private readonly memo = new Map<Node, GVal>()
  private readonly active = new Set<Node>()
  private readonly targets: Map<Alias, Node>
  /**
   * yaml.v2's count of decoded nodes and of those decoded through an alias, as its decoding into
   * interface{} (the rack's yamlAttributes) meets them in document order: each alias counts
   * every node of its value again. Sizes of values are counted once each, so this is linear in
   * the text however far the aliases would expand.
   */
  private decoded = 1
  private aliased = 0
  private readonly sizes = new Map<GVal, number>()
  /** Set once the aliases expand too far: nothing more is built. */
  private excessive = false

  constructor(doc: Document.Parsed) {
    this.targets = aliasTargets(doc)
  }

  build(node: Node | null | undefined, fallbackAt: number): GVal {
    if (node === null || node === undefined)
      return { kind: 'null', text: '', tag: '!!null', at: fallbackAt }
    if (isAlias(node)) {
      const target = this.targets.get(node)
      if (!target) {
        this.problems.push({
          at: start(node, fallbackAt),
          message: `unknown anchor '${node.source}' referenced`
        })
        return { kind: 'null', text: '', tag: '!!null', at: start(node, fallbackAt) }
      }
      if (this.active.has(target)) {
        this.problems.push({
          at: start(node, fallbackAt),
          message: `anchor '${node.source}' value contains itself`
        })
        return { kind: 'null', text: '', tag: '!!null', at: start(node, fallbackAt) }
      }
      const value = this.build(target, start(node, fallbackAt))
      if (this.excessive || !this.countAlias(value)) {
        if (!this.excessive) {
          this.problems.push({
            at: start(node, fallbackAt),
            message: 'document contains excessive aliasing'
          })
        }
        this.excessive = true
        return { kind: 'null', text: '', tag: '!!null', at: start(node, fallbackAt) }
      }
      return value
    }
    const memo = this.memo.get(node)
    if (memo) return memo
    this.decoded++
    this.active.add(node)
    const v = this.convert(node, start(node, fallbackAt))
    this.active.delete(node)
    this.memo.set(node, v)
    return v
  }

  /**
   * Counts an alias to `value` as yaml.v2 does (decode.go unmarshal, alias); false when the share
   * of nodes from aliases passes allowedAliasRatio, where yaml.v2 fails.
   */
  private countAlias(value: GVal): boolean {
    const n = this.size(value)
    this.decoded += n + 1
    this.aliased += n
    return !(
      this.aliased > 100 &&
      this.decoded > 1000 &&
      this.aliased / this.decoded > allowedAliasRatio(this.decoded)
    )
  }

  /** Nodes of a value with its aliases expanded, each value counted once. */
  private size(v: GVal): number {
    const known = this.sizes.get(v)
    if (known !== undefined) return known
    let n = 1
    if (v.kind === 'map') for (const e of v.entries) n += this.size(e.key) + this.size(e.value)
    else if (v.kind === 'seq') for (const i of v.items) n += this.size(i)
    this.sizes.set(v, n)
    return n
  }

  private convert(node: Node, at: number): GVal {
    if (isMap(node)) {
      const entries: GEntry[] = []
      for (const pair of node.items) {
        const keyNode = (pair.key ?? null) as Node | null
        const key = this.build(keyNode, at)
        const merge =
          isScalar(keyNode) &&
          ((keyNode.type === Scalar.PLAIN &&
            !keyNode.tag &&
            key.kind !== 'map' &&
            (key as GScalar).text === '<<') ||
            keyNode.tag === TAG_PREFIX + 'merge')
        entries.push({ key, value: this.build((pair.value ?? null) as Node | null, key.at), merge })
      }
      return { kind: 'map', entries, at }
    }
    if (isSeq(node)) {
      return { kind: 'seq', items: node.items.map(i => this.build(i as Node, at)), at }
    }
    if (isScalar(node)) return this.scalar(node, at)
    return { kind: 'null', text: '', tag: '!!null', at }
  }

  private scalar(node: Scalar, at: number): GScalar {
    const text = typeof node.source === 'string' ? node.source : scalarString(node)
    const tag = node.tag
    if (!tag || tag === '!') {
      if (node.type === Scalar.PLAIN && !tag) return resolvePlain(text, at)
      return { kind: 'str', text, tag: '!!str', at }
    }
    if (!tag.startsWith(TAG_PREFIX)) return { kind: 'str', text, tag, at }
    const name = tag.slice(TAG_PREFIX.length)
    if (name === 'str' || name === 'merge') return { kind: 'str', text, tag: '!!str', at }
    if (name === 'binary') {
      const clean = text.replace(/\s+/g, '')
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
        this.problems.push({ at, message: '!!binary value contains invalid base64 data' })
        return { kind: 'str', text: '', tag: '!!str', at }
      }
      return {
        kind: 'str',
        text: Buffer.from(clean, 'base64').toString('latin1'),
        tag: '!!str',
        at
      }
    }
    const r = resolvePlain(text, at)
    if (name === 'timestamp' && r.tag === '!!timestamp') return r
    if (name === 'float' && r.kind === 'int') {
      return { kind: 'float', text, tag: '!!float', float: Number(r.int), at }
    }
    if (['int', 'float', 'bool', 'null'].includes(name)) {
      if (r.kind !== name || r.tag === '!!timestamp') {
        this.problems.push({ at, message: `cannot decode ${r.tag} \`${text}\` as a !!${name}` })
      }
      return r
    }
    // !!map, !!seq or unknown yaml.org tags on a scalar: yaml.v2 keeps the text.
    return { kind: 'str', text, tag: '!!' + name, at }
  }
}

// yaml.v2 (decode.go allowedAliasRatio): the share of decoded nodes that may come from aliases,
// 99% up to 400,000 nodes, falling to 10% at 4,000,000.
const ALIAS_RATIO_LOW = 400_000
const ALIAS_RATIO_HIGH = 4_000_000

function allowedAliasRatio(decoded: number): number {
  if (decoded <= ALIAS_RATIO_LOW) return 0.99
  if (decoded >= ALIAS_RATIO_HIGH) return 0.1
  return 0.99 - (0.89 * (decoded - ALIAS_RATIO_LOW)) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW)
}

/**
 * Each alias's node: the last node anchored with its name before it (as Alias.resolve finds it,
 * which walks the whole document for every alias: quadratic), in one walk.
 */
function aliasTargets(doc: Document.Parsed): Map<Alias, Node> {
  const out = new Map<Alias, Node>()
  const latest = new Map<string, Node>()
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) {
        const target = latest.get(node.source)
        if (target) out.set(node, target)
      } else if (node.anchor) latest.set(node.anchor, node)
    }
  })
  return out
}

function scalarString(node: Scalar): string {
  const v = node.value
  if (typeof v === 'string') return v
  if (v === null || v === undefined) return ''
  return String(v)
}

function start(node: Node, fallback: number): number {
  return node.range?.[0] ?? fallback
}

/** Parses the first document, as yaml.v2's Unmarshal does; syntax errors as problems. */
export function parseYaml(text: string): ParsedYaml {
  const docs = parseAllDocuments(text, {
    version: '1.1',
    merge: false,
    uniqueKeys: false,
    prettyErrors: false,
    strict: false
  })
  const list = Array.isArray(docs) ? docs : [docs]
  const doc = list[0]
  if (!doc) return { root: null, problems: [] }
  const problems: YamlProblem[] = doc.errors.map(e => ({
    at: e.pos[0],
    message: yamlMessage(e.message)
  }))
  if (problems.length > 0) return { root: null, problems }
  const contents = doc.contents as Node | null
  if (
    contents === null ||
    (isScalar(contents) &&
      contents.source === '' &&
      !contents.tag &&
      contents.type === Scalar.PLAIN)
  ) {
    return { root: null, problems: [] }
  }
  const b = new Builder(doc)
  const root = b.build(contents, 0)
  return { root, problems: b.problems }
}

/** yaml's messages end with a position we report separately. */
function yamlMessage(message: string): string {
  return message.replace(/ at line \d+, column \d+[\s\S]*$/, '')
}

/** A scalar's text after yaml.v2 marshals its decoded value and reads it back (remarshal). */
export function remarshalScalar(s: GScalar): GScalar {
  switch (s.kind) {
    case 'str':
      return s.tag === '!!str' ? s : { ...s, tag: '!!str' }
    case 'int':
      return { ...s, text: String(s.int) }
    case 'bool':
      return { ...s, text: s.bool ? 'true' : 'false' }
    case 'null':
      return { ...s, text: 'null' }
    case 'float': {
      const text = goFloatText(s.float ?? 0)
      return resolvePlain(text, s.at)
    }
  }
}

export function isNull(v: GVal | undefined): boolean {
  return v === undefined || v.kind === 'null'
}

/** Go's %T for a value decoded into interface{} (in a map[interface{}]interface{} context). */
export function goTypeName(v: GVal, sliceMaps = false): string {
  switch (v.kind) {
    case 'str':
      return 'string'
    case 'int':
      return v.int !== undefined && v.int > INT64_MAX ? 'uint64' : 'int'
    case 'float':
      return 'float64'
    case 'bool':
      return 'bool'
    case 'null':
      return '<nil>'
    case 'map':
      return sliceMaps ? 'yaml.MapSlice' : 'map[interface {}]interface {}'
    case 'seq':
      return '[]interface {}'
  }
}

export const LIMITS = { INT64_MAX, UINT64_MAX }
