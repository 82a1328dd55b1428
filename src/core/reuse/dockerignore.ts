// The `.dockerignore` that applies to a build, read and matched the way BuildKit does:
// `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's `.dockerignore`
// (moby/buildkit frontend/dockerui/config.go, ReadEntrypoint and dockerIgnorePatterns), lines as
// moby/patternmatcher's ignorefile.ReadAll reads them, and paths matched as the context walker
// does (tonistiigi/fsutil filter.go, Walk: MatchesUsingParentResults, parents' results carried).
//
// Not @balena/dockerignore: on our differential tests against BuildKit it differs (case-insensitive
// by default, `+()|{}` taken as regexp syntax, `**` parents matched another way, and each rule
// checked against parent paths where BuildKit carries the parent's result).
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'

/** Where the ignore file of a build is, and its patterns (empty when there is none). */
export interface IgnoreFile {
  /** Absolute path of the file read, '' when none applies. */
  file: string
  patterns: string[]
}

/** Reads the ignore file that applies to a build of `dockerfilePath` in `contextPath`. */
export function readIgnoreFile(contextPath: string, dockerfilePath: string): IgnoreFile {
  const beside = `${dockerfilePath}.dockerignore`
  const candidates = [beside, path.join(contextPath, '.dockerignore')]
  for (const file of candidates) {
    if (!existsSync(file)) continue
    return { file, patterns: parseIgnoreFile(readFileSync(file)) }
  }
  return { file: '', patterns: [] }
}

/** Go's filepath.Clean on a slash path. */
export function cleanPath(p: string): string {
  if (p === '') return '.'
  const n = path.posix.normalize(p)
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n
}

/** The patterns of an ignore file, as ignorefile.ReadAll returns them. */
export function parseIgnoreFile(data: Buffer | string): string[] {
  let text = typeof data === 'string' ? data : data.toString('utf8')
  if (text.startsWith('\uFEFF')) text = text.slice(1)
  const out: string[] = []
  // bufio.Scanner lines: split on \n, a trailing \r dropped.
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (line.startsWith('#')) continue
    let p = line.trim()
    if (p === '') continue
    const invert = p.startsWith('!')
    if (invert) p = p.slice(1).trim()
    if (p.length > 0) {
      p = cleanPath(p)
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1)
    }
    out.push(invert ? `!${p}` : p)
  }
  return out
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp'

interface Pattern {
  text: string
  exclusion: boolean
  type: MatchType
  regexp?: RegExp
}

// Characters that are regexp syntax but plain in a filepath.Match pattern.
const PLAIN = new Set(['.', '+', '(', ')', '|', '{', '}', '$'])

function compile(text: string, exclusion: boolean): Pattern {
  let re = '^'
  let type: MatchType = 'exact'
  for (let i = 0, n = 0; i < text.length; i++, n++) {
    const ch = text[i]!
    if (ch === '*') {
      if (text[i + 1] === '*') {
        i++
        if (text[i + 1] === '/') i++
        if (i + 1 >= text.length) {
          if (type === 'exact') type = 'prefix'
          else {
            re += '.*'
            type = 'regexp'
          }
        } else {
          re += '(.*/)?'
          type = 'regexp'
        }
        if (n === 0) type = 'suffix'
      } else {
        re += '[^/]*'
        type = 'regexp'
      }
    } else if (ch === '?') {
      re += '[^/]'
      type = 'regexp'
    } else if (PLAIN.has(ch)) {
      re += `\\${ch}`
    } else if (ch === '\\') {
      if (i + 1 < text.length) {
        re += `\\${text[++i]}`
        type = 'regexp'
      } else re += '\\\\'
    } else if (ch === '[' || ch === ']') {
      re += ch
      type = 'regexp'
    } else {
      re += ch
    }
  }
  const p: Pattern = { text, exclusion, type }
  if (type === 'regexp') p.regexp = new RegExp(`${re}$`, 'u')
  return p
}

function matches(p: Pattern, file: string): boolean {
  switch (p.type) {
    case 'exact':
      return file === p.text
    case 'prefix':
      return file.startsWith(p.text.slice(0, -2))
    case 'suffix': {
      const suffix = p.text.slice(2)
      return file.endsWith(suffix) || (suffix.startsWith('/') && file === suffix.slice(1))
    }
    case 'regexp':
      return p.regexp!.test(file)
  }
}

function withoutTrailingGlob(text: string): string {
  const a = text.endsWith('/**') ? text.slice(0, -3) : text
  return a.endsWith('/*') ? a.slice(0, -2) : a
}

/** What a directory's match left for its children (one flag per pattern). */
export type ParentResults = boolean[] | undefined

/** Exclude patterns of a context, matched path by path as the context walker does. */
export class IgnoreMatcher {
  readonly patterns: Pattern[]
  readonly exclusions: boolean
  /** Every exception is a plain prefix: an excluded directory can be skipped unless one is in it. */
  private readonly prefixExceptions: boolean

  /** Throws on a pattern BuildKit refuses (a lone `!`, a malformed `[`). */
  constructor(patterns: string[]) {
    this.patterns = []
    for (const raw of patterns) {
      let p = raw.trim()
      if (p === '') continue
      p = cleanPath(p)
      let exclusion = false
      if (p.startsWith('!')) {
        if (p.length === 1) throw new Error('illegal exclusion pattern: "!"')
        exclusion = true
        p = p.slice(1)
      }
      if (/\[(?![^\]]*\])/.test(p)) throw new Error(`syntax error in pattern "${p}"`)
      this.patterns.push(compile(p, exclusion))
    }
    this.exclusions = this.patterns.some(p => p.exclusion)
    this.prefixExceptions = this.patterns
      .filter(p => p.exclusion)
      .every(p => !/[*?[\]^\\]/.test(withoutTrailingGlob(p.text)))
  }

  /** Is `file` (slash path relative to the context) excluded; and what its children inherit. */
  match(file: string, parent: ParentResults): { excluded: boolean; results: boolean[] } {
    let matched = false
    const results: boolean[] = new Array<boolean>(this.patterns.length).fill(false)
    this.patterns.forEach((p, i) => {
      let m = parent ? (parent[i] ?? false) : false
      if (!m) {
        if (p.exclusion !== matched) return
        m = matches(p, file)
        if (!m && !parent) {
          const dirs = path.posix.dirname(file)
          if (dirs !== '.') {
            const parts = dirs.split('/')
            for (let j = 1; j <= parts.length && !m; j++)
              m = matches(p, parts.slice(0, j).join('/'))
          }
        }
      }
      results[i] = m
      if (m) matched = !p.exclusion
    })
    return { excluded: matched, results }
  }

  /** An excluded directory whose content no exception can bring back (the walker skips it). */
  canSkip(dir: string): boolean {
    if (!this.exclusions) return true
    if (!this.prefixExceptions) return false
    const slash = `${dir}/`
    return !this.patterns.some(
      p => p.exclusion && `${withoutTrailingGlob(p.text)}/`.startsWith(slash)
    )
  }
}
