// A stand-in for the Dockerfile model of src/core/dockerfile.ts (parseDockerfile, resolveFrom),
// with exactly its interface, until that lands: then this file goes and its callers import the
// real one. Enough of the syntax for the reuse key: directives, escape, continuations, heredoc
// bodies skipped, FROM (flags, AS), ARG, and each instruction's flags.
import { words } from '../dockerfile.js'

export interface ArgDecl {
  name: string
  default?: string
  line: number
  col: number
}

export interface Instruction {
  keyword: string
  /** `--name=value` flags, in order. */
  flags: string[]
  /** The words after the flags. */
  args: string[]
  line: number
}

export interface Stage {
  index: number
  /** The `AS` name, or null. */
  name: string | null
  /** The image as written (`${VAR}` not expanded). */
  from: string
  /** The `--platform` flag as written, or null. */
  platform: string | null
  line: number
  /** ARGs declared in the stage. */
  args: ArgDecl[]
  instructions: Instruction[]
}

export interface DockerfileModel {
  escape: string
  /** The `# syntax=` frontend image, or null. */
  syntax: string | null
  /** ARGs before the first FROM (the only ones FROM lines can use). */
  globalArgs: ArgDecl[]
  stages: Stage[]
}

export function parseDockerfile(text: string): DockerfileModel {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  let escape = '\\'
  let syntax: string | null = null
  let i = 0
  const seen = new Set<string>()
  for (; i < lines.length; i++) {
    const m = /^\s*#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$/.exec(lines[i] ?? '')
    if (!m) break
    const name = m[1]!.toLowerCase()
    if (!['escape', 'syntax', 'check'].includes(name) || seen.has(name) || m[2] === '') break
    seen.add(name)
    if (name === 'escape' && (m[2] === '\\' || m[2] === '`')) escape = m[2]
    if (name === 'syntax') syntax = m[2]!
  }
  const model: DockerfileModel = { escape, syntax, globalArgs: [], stages: [] }
  const heredocs: { word: string; strip: boolean }[] = []
  while (i < lines.length) {
    if (heredocs.length > 0) {
      const h = heredocs[0]!
      const l = lines[i] ?? ''
      if ((h.strip ? l.replace(/^\t+/, '') : l) === h.word) heredocs.shift()
      i++
      continue
    }
    const lineNo = i + 1
    let logical = ''
    let current = lines[i++] ?? ''
    if (/^\s*(#|$)/.test(current)) continue
    for (;;) {
      const trimmed = current.replace(/[ \t]+$/, '')
      if (!trimmed.endsWith(escape) || trimmed.endsWith(escape + escape)) {
        logical += current
        break
      }
      logical += trimmed.slice(0, -1)
      while (i < lines.length && /^\s*(#|$)/.test(lines[i] ?? '')) i++
      if (i >= lines.length) break
      current = lines[i++] ?? ''
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(logical)
    if (!m) continue
    const keyword = m[1]!.toUpperCase()
    const all = words(m[2]!, escape)
    const flags: string[] = []
    while (all[0]?.startsWith('--')) flags.push(all.shift()!)
    if (keyword === 'FROM') {
      const platform = flags.find(f => f.startsWith('--platform='))?.slice('--platform='.length)
      const named = all.length >= 3 && all[1]!.toLowerCase() === 'as'
      model.stages.push({
        index: model.stages.length,
        name: named ? all[2]! : null,
        from: all[0] ?? '',
        platform: platform ?? null,
        line: lineNo,
        args: [],
        instructions: []
      })
      continue
    }
    const stage = model.stages.at(-1)
    if (keyword === 'ARG') {
      for (const w of all) {
        const eq = w.indexOf('=')
        const decl: ArgDecl =
          eq < 0
            ? { name: w, line: lineNo, col: 1 }
            : { name: w.slice(0, eq), default: w.slice(eq + 1), line: lineNo, col: 1 }
        ;(stage ? stage.args : model.globalArgs).push(decl)
      }
    }
    if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD') {
      for (const h of m[2]!.matchAll(/(?:^|\s)\d*<<(-?)(["']?)([A-Za-z0-9_][A-Za-z0-9_.-]*)\2/g)) {
        heredocs.push({ word: h[3]!, strip: h[1] === '-' })
      }
    }
    stage?.instructions.push({ keyword, flags, args: all, line: lineNo })
  }
  return model
}

/**
 * The image a stage's FROM names with these build args (global ARG defaults otherwise), or null
 * for a previous stage and `scratch`.
 */
export function resolveFrom(
  model: DockerfileModel,
  stage: Stage,
  buildArgs: Record<string, string>
): string | null {
  const vars: Record<string, string> = {}
  for (const a of model.globalArgs) {
    const v = Object.hasOwn(buildArgs, a.name) ? buildArgs[a.name] : a.default
    if (v !== undefined) vars[a.name] = expand(v, vars)
  }
  const image = expand(stage.from, vars)
  if (image.toLowerCase() === 'scratch') return null
  const earlier = model.stages.slice(0, stage.index)
  if (earlier.some(s => s.name !== null && s.name.toLowerCase() === image.toLowerCase()))
    return null
  return image
}

/** `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR:+word}` (and without the colon) as BuildKit's lexer. */
function expand(text: string, vars: Record<string, string>): string {
  return text.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_all, braced: string | undefined, op: string | undefined, word: string | undefined, bare) => {
      const name = braced ?? (bare as string)
      const set = Object.hasOwn(vars, name)
      const value = set ? vars[name]! : ''
      if (!op) return value
      const empty = op.startsWith(':') ? value === '' : !set
      if (op.endsWith('-')) return empty ? expand(word ?? '', vars) : value
      return empty ? '' : expand(word ?? '', vars)
    }
  )
}
