// What a build needs to know of a Dockerfile: the ARG names it declares (any stage, or before the
// first FROM) and its stage names. A scan, not a full parser, but one that follows the Dockerfile
// syntax where the rack's line scan does not: parser directives, the escape character, line
// continuations (with comment lines inside them), several names per ARG, quoted defaults, any
// keyword case, and heredocs (whose bodies are not instructions).
import fs from 'node:fs'
import { UserError } from './errors.js'

export interface DockerfileInfo {
  /** Declared ARG names, in order of first declaration, each once. */
  args: string[]
  /** Stage names (`FROM image AS name`), in order, as written. */
  stages: string[]
  /** The escape character in effect (`\` unless `# escape=` says otherwise). */
  escape: string
}

export interface ScanProblem {
  line: number
  message: string
}

/** Scans Dockerfile text; bad parser directives are returned as problems. */
export function scanDockerfile(text: string): DockerfileInfo & { problems: ScanProblem[] } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const problems: ScanProblem[] = []
  let escape = '\\'
  let i = 0

  // Parser directives: only at the very top, one per line, each at most once; the first line
  // that is not one (comment, blank line, instruction) ends them.
  const seen = new Set<string>()
  for (; i < lines.length; i++) {
    const m = /^\s*#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$/.exec(lines[i] ?? '')
    if (!m) break
    const name = (m[1] ?? '').toLowerCase()
    if (!['escape', 'syntax', 'check'].includes(name)) break
    if (seen.has(name)) break
    seen.add(name)
    if (name === 'escape') {
      const v = m[2] ?? ''
      if (v !== '\\' && v !== '`') {
        problems.push({ line: i + 1, message: `invalid escape directive "${v}": must be \\ or \`` })
      } else {
        escape = v
      }
    }
  }

  const args: string[] = []
  const stages: string[] = []
  const pendingHeredocs: { word: string; strip: boolean }[] = []

  while (i < lines.length) {
    // Heredoc bodies follow the instruction line that opened them.
    if (pendingHeredocs.length > 0) {
      const h = pendingHeredocs[0]!
      const line = lines[i] ?? ''
      if ((h.strip ? line.replace(/^\t+/, '') : line) === h.word) pendingHeredocs.shift()
      i++
      continue
    }
    const first = lines[i] ?? ''
    i++
    if (isBlankOrComment(first)) continue
    // Join continuation lines; comment and blank lines inside a continuation are skipped.
    let logical = ''
    let current = first
    for (;;) {
      const cont = continued(current, escape)
      if (cont === null) {
        logical += current
        break
      }
      logical += cont
      while (i < lines.length && isBlankOrComment(lines[i] ?? '')) i++
      if (i >= lines.length) break
      current = lines[i] ?? ''
      i++
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(logical)
    if (!m) continue
    const keyword = (m[1] ?? '').toUpperCase()
    const rest = m[2] ?? ''
    if (keyword === 'ARG') {
      for (const word of words(rest, escape)) {
        const name = word.split('=')[0] ?? ''
        if (name !== '' && !args.includes(name)) args.push(name)
      }
    } else if (keyword === 'FROM') {
      const w = words(rest, escape).filter(x => !x.startsWith('--'))
      if (w.length >= 3 && (w[w.length - 2] ?? '').toLowerCase() === 'as')
        stages.push(w[w.length - 1]!)
    } else if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD') {
      for (const h of rest.matchAll(/(?:^|\s)\d*<<(-?)(["']?)([A-Za-z0-9_][A-Za-z0-9_.-]*)\2/g)) {
        pendingHeredocs.push({ word: h[3] ?? '', strip: h[1] === '-' })
      }
    }
  }
  return { args, stages, escape, problems }
}

/** Reads and scans a Dockerfile; `shown` names it in errors (relative to the working directory). */
export function readDockerfile(file: string, shown: string): DockerfileInfo {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new UserError({
      file: shown,
      message:
        code === 'ENOENT' ? 'Dockerfile does not exist' : `Dockerfile cannot be read (${code})`
    })
  }
  const info = scanDockerfile(text)
  if (info.problems.length > 0) {
    throw new UserError(
      info.problems.map(p => ({ file: shown, line: p.line, col: 1, message: p.message }))
    )
  }
  return { args: info.args, stages: info.stages, escape: info.escape }
}

/** True when a stage named `name` exists (stage names are case-insensitive). */
export function hasStage(info: DockerfileInfo, name: string): boolean {
  return info.stages.some(s => s.toLowerCase() === name.toLowerCase())
}

function isBlankOrComment(line: string): boolean {
  return /^\s*(#|$)/.test(line)
}

/** The line without its trailing escape character when it continues, else null. */
function continued(line: string, escape: string): string | null {
  const trimmed = line.replace(/\s+$/, '')
  if (!trimmed.endsWith(escape)) return null
  return trimmed.slice(0, -1)
}

/** Splits an instruction's arguments into words: whitespace separates outside quotes. */
export function words(text: string, escape: string): string[] {
  const out: string[] = []
  let word = ''
  let inWord = false
  let quote: string | null = null
  for (let j = 0; j < text.length; j++) {
    const c = text[j]!
    if (c === escape && quote !== "'" && j + 1 < text.length) {
      word += text[j + 1]
      inWord = true
      j++
    } else if (quote) {
      if (c === quote) quote = null
      else word += c
    } else if (c === '"' || c === "'") {
      quote = c
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) out.push(word)
      word = ''
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (inWord) out.push(word)
  return out
}
