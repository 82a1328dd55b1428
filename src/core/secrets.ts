// The one place that knows what is secret and how to keep it out of text: every log line, output,
// summary, state, stored log and record goes through a Redactor before it is written, and is
// redacted before it is shortened (a cut line must not show the first characters of a secret).
import { parseRepositoryUrl, safeDecode } from './credential-url.js'
import { INPUTS, type Input } from './inputs.js'

export { safeDecode }

const secretRows = (...kinds: Input['secret'][]): Input[] =>
  INPUTS.filter((i: Input) => kinds.includes(i.secret))

/** Inputs whose values are secret as given (action names; the CLI flags have the same names). */
export const SECRET_INPUTS = secretRows('value', 'url').map(i => i.name)

/** Inputs holding `id=value` lines whose values are secret. */
export const SECRET_LINE_INPUTS = secretRows('lines').map(i => i.name)

/** Variables a secret input falls back to (RACK_URL, CONVOX_PASSWORD): secret too. */
const SECRET_INPUT_VARIABLES = secretRows('value', 'url').flatMap(i =>
  (i.env ?? []).map(variable => ({ variable, url: i.secret === 'url' }))
)

/** Shorter values are not redacted: `***` for every `a` would make logs unreadable. */
const MIN_SECRET_LENGTH = 3

const MASK = '***'

/**
 * Replaces known values by `***`, longest first, in every form they are written in: as given,
 * each line of a multi-line value, base64, URL-encoded and JSON-escaped.
 */
export class Redactor {
  private readonly values = new Set<string>()
  private sorted: string[] | undefined
  private readonly listeners: ((value: string) => void)[] = []

  constructor(values: Iterable<string> = []) {
    for (const v of values) this.add(v)
  }

  /** Adds a value (and its encoded forms); listeners hear each new form (the runner's masker). */
  add(value: string | undefined): void {
    if (!value || value.trim() === '') return
    for (const form of encodedForms(value)) {
      if (form.length < MIN_SECRET_LENGTH || this.values.has(form)) continue
      this.values.add(form)
      this.sorted = undefined
      for (const l of this.listeners) l(form)
    }
  }

  /** A `user:password` login: the password, and the base64 of the pair (Basic auth, docker auths). */
  addLogin(username: string, password: string): void {
    this.add(password)
    if (password) this.add(Buffer.from(`${username}:${password}`).toString('base64'))
  }

  /** Called for every form added from now on, and for those already known. */
  onAdd(listener: (value: string) => void): void {
    this.listeners.push(listener)
    for (const v of this.values) listener(v)
  }

  /** Every form known, longest first. */
  list(): string[] {
    this.sorted ??= [...this.values].sort((a, b) => b.length - a.length)
    return this.sorted
  }

  redact(text: string): string {
    let out = text
    for (const v of this.list()) if (out.includes(v)) out = out.split(v).join(MASK)
    return out
  }

  /** Redacts, then shortens to `max` characters on one line (the order matters). */
  cut(text: string, max: number): string {
    const one = this.redact(text).replace(/\s+/g, ' ')
    return one.length > max ? `${one.slice(0, max - 1)}…` : one
  }

  /** True when text holds a known value in any of its forms. */
  leaks(text: string): boolean {
    return this.list().some(v => text.includes(v))
  }
}

/** A value and the forms it takes when written elsewhere. */
function encodedForms(value: string): string[] {
  const forms = new Set<string>([value])
  for (const line of value.split(/\r?\n/)) if (line.trim() !== '') forms.add(line.trim())
  forms.add(Buffer.from(value).toString('base64'))
  // base64 without padding is what appears inside a longer base64 run ending elsewhere
  forms.add(Buffer.from(value).toString('base64').replace(/=+$/, ''))
  forms.add(encodeURIComponent(value))
  const json = JSON.stringify(value).slice(1, -1)
  forms.add(json)
  // Go's encoding/json (BuildKit's progress, the rack's answers) also escapes <, > and &.
  forms.add(json.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026'))
  forms.add(safeDecode(value))
  return [...forms]
}

/**
 * The secret inputs as given, before they are parsed (a message about a bad input may quote it).
 * `read` takes an input name and gives its raw value.
 */
export function addInputSecrets(redactor: Redactor, read: (name: string) => string): void {
  for (const row of secretRows('value', 'url')) {
    const value = read(row.name)
    redactor.add(value)
    if (row.secret === 'url') redactor.add(urlPassword(value))
  }
  for (const name of SECRET_LINE_INPUTS) {
    for (const line of read(name).split(/\r?\n/)) redactor.add(line.slice(line.indexOf('=') + 1))
  }
}

/**
 * The environment's Convox credentials (the variables of the secret inputs, from the input
 * table) and the values of `ciVariables`: the CIs' token variables, which each CI's adapter names
 * (src/ci/index.ts CI_SECRET_VARIABLES).
 */
export function addEnvironmentSecrets(
  redactor: Redactor,
  env: NodeJS.ProcessEnv,
  ciVariables: readonly string[]
): void {
  for (const name of ciVariables) redactor.add(env[name])
  for (const { variable, url } of SECRET_INPUT_VARIABLES) {
    const value = env[variable]
    redactor.add(value)
    if (value && url) redactor.add(urlPassword(value))
  }
}

/**
 * The password of a URL's userinfo (`https://convox:<password>@host`), decoded when it was
 * escaped (a rack writes its own unescaped: parseRepositoryUrl); '' when none.
 */
export function urlPassword(url: string): string {
  try {
    return parseRepositoryUrl(url).password
  } catch {
    return ''
  }
}
