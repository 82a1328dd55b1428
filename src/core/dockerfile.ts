// Dockerfiles as BuildKit parses them (frontend/dockerfile/parser: Parse, directives,
// splitCommand, heredocsFromLine; instructions: Parse, parseArg, parseFrom, parseOnBuild), and the
// model of stages, ARGs and instructions other parts of the engine read. Only the parse: what a
// build does with it (dockerfile2llb) is left to BuildKit, except where noted.
import fs from 'node:fs'
import { UserError } from './errors.js'

export interface ArgDeclaration {
  /** As BuildKit keys it: the text before `=`, quotes included (`ARG "QK"=1` is `"QK"`). */
  name: string
  /** The default as written (unexpanded), when given. */
  default?: string
  line: number
  col: number
}

export interface DockerfileInstruction {
  /** Upper case: RUN, COPY, ENV, ... */
  keyword: string
  /** 1-based line where it starts. */
  line: number
  /** Its arguments after continuations are joined and flags taken off, as BuildKit sees them. */
  text: string
  /** Leading --flags as written (--mount=..., --from=..., --platform=...). */
  flags: string[]
  /** Heredoc names it opens. */
  heredocs: string[]
  /** ARG only (an ONBUILD's ARG trigger too): what it declares. */
  args?: ArgDeclaration[]
  /** ONBUILD only: its trigger, parsed as an instruction of its own. */
  trigger?: DockerfileInstruction
}

export interface DockerfileStage {
  index: number
  /** `AS name` as written, '' when unnamed. */
  name: string
  /** The FROM image as written, before ARG expansion (may be a stage name). */
  from: string
  /** --platform value as written, '' when none. */
  platform: string
  line: number
  /** ARGs declared inside the stage, in order. */
  args: ArgDeclaration[]
  /** After FROM, in order (ARG included). */
  instructions: DockerfileInstruction[]
}

export interface DockerfileModel {
  escape: string
  /** `# syntax=` value (its first word, as BuildKit's DetectSyntax), '' when none. */
  syntax: string
  /** ARGs before the first FROM. */
  globalArgs: ArgDeclaration[]
  stages: DockerfileStage[]
}

export interface ScanProblem {
  line: number
  message: string
}

/** What plan.ts reads: every ARG name BuildKit may take a build arg for, and the stage names. */
export interface DockerfileInfo {
  /** Declared ARG names (global and in stages), in order of first declaration, each once. */
  args: string[]
  /** Stage names (`FROM image AS name`), in order, as written. */
  stages: string[]
  escape: string
}

const INSTRUCTIONS = new Set([
  'add',
  'arg',
  'cmd',
  'copy',
  'entrypoint',
  'env',
  'expose',
  'from',
  'healthcheck',
  'label',
  'maintainer',
  'onbuild',
  'run',
  'shell',
  'stopsignal',
  'user',
  'volume',
  'workdir'
])
const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run'])
/** Instructions whose arguments may be a JSON array (parseMaybeJSON and friends). */
const JSON_INSTRUCTIONS = new Set(['add', 'copy', 'run', 'cmd', 'entrypoint', 'shell', 'volume'])
/** The flags each instruction's parser declares (instructions/parse.go); ARG and STOPSIGNAL read none. */
const FLAGS: Record<string, string[]> = {
  from: ['platform'],
  add: ['chown', 'chmod', 'link', 'keep-git-dir', 'checksum', 'unpack', 'exclude'],
  copy: ['chown', 'from', 'chmod', 'link', 'exclude', 'parents'],
  run: ['mount', 'network', 'security', 'device'],
  healthcheck: ['interval', 'timeout', 'start-period', 'start-interval', 'retries']
}
/** Instructions that need arguments: errAtLeastOneArgument and friends (instructions/parse.go). */
const NEEDS_ARGS: Record<string, string> = {
  healthcheck: 'HEALTHCHECK requires at least one argument',
  expose: 'EXPOSE requires at least one argument',
  workdir: 'WORKDIR requires exactly one argument',
  user: 'USER requires exactly one argument',
  volume: 'VOLUME requires at least one argument',
  maintainer: 'MAINTAINER requires exactly one argument',
  stopsignal: 'STOPSIGNAL requires exactly one argument',
  shell: 'SHELL requires at least one argument',
  env: 'ENV requires at least one argument',
  label: 'LABEL requires at least one argument'
}
/** instructions parseBuildStageName: validStageName. */
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/
/** directives.go directiveRegexp (Go's \s is ASCII). */
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/
const LEADING_SPACE = new RegExp(`^${GO_SPACE.source}+`)
const TRAILING_SPACE = new RegExp(`${GO_SPACE.source}+$`)
const WORD_SPLIT = /[\t\v\f\r ]+/
/** A line continued by the escape token (setEscapeToken), for each token a directive allows. */
const CONTINUATION: Record<string, RegExp> = Object.fromEntries(
  ['\\', '`'].map(c => {
    const e = '\\' + c
    return [c, new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`)]
  })
)

function trimSpace(s: string): string {
  return s.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '')
}

function isComment(line: string): boolean {
  return line.replace(LEADING_SPACE, '').startsWith('#')
}

interface Line {
  text: string
  /** 1-based. */
  number: number
}

type ParsedDockerfile = DockerfileModel & { problems: ScanProblem[] }

/** Parses Dockerfile text the way BuildKit does; what BuildKit rejects is returned as problems. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const problems: ScanProblem[] = []
  const model: DockerfileModel = {
    escape: '\\',
    syntax: detectSyntax(text),
    globalArgs: [],
    stages: []
  }
  const done = (): ParsedDockerfile => ({ ...model, problems })
  // scanLines keeps line endings; the last line may have none.
  const raw = text.replace(/^\uFEFF/, '').split(/(?<=\n)/)
  const lines: Line[] = raw.map((t, i) => ({ text: t, number: i + 1 }))
  const trimNewline = (s: string): string => s.replace(/[\r\n]+$/, '')

  // Parser directives (directives.go DirectiveParser): `# name=value` lines at the very top.
  let directivesDone = false
  const seen = new Set<string>()
  const directive = (line: string, n: number): void => {
    if (directivesDone) return
    if (!line.startsWith('#')) {
      directivesDone = true
      return
    }
    const m = DIRECTIVE.exec(line.slice(1).replace(LEADING_SPACE, ''))
    const name = (m?.[1] ?? '').toLowerCase()
    if (!m || !['syntax', 'escape', 'check'].includes(name)) {
      directivesDone = true
      return
    }
    if (seen.has(name)) {
      problems.push({ line: n, message: `only one ${name} parser directive can be used` })
      return
    }
    seen.add(name)
    if (name === 'escape') {
      const v = m[2] ?? ''
      if (v !== '\\' && v !== '`') {
        problems.push({ line: n, message: `invalid escape token '${v}' does not match \` or \\` })
      } else model.escape = v
    }
  }
  const trimContinuation = (s: string): [string, boolean] => {
    const re = CONTINUATION[model.escape]!
    return re.test(s) ? [s.replace(re, '$1'), false] : [s, true]
  }

  let stage: DockerfileStage | undefined
  let any = false
  let i = 0
  while (i < lines.length) {
    const first = lines[i]!
    i++
    let bytes = trimNewline(first.text).replace(LEADING_SPACE, '')
    directive(bytes, first.number)
    if (problems.length > 0) return done()
    if (isComment(bytes)) bytes = ''
    const startLine = first.number
    let [buf, isEnd] = trimContinuation(bytes)
    if (isEnd && buf.length === 0) continue
    while (!isEnd && i < lines.length) {
      const next = lines[i]!
      i++
      const b = trimNewline(next.text)
      directive(b, next.number)
      if (isComment(next.text)) continue
      if (b.replace(LEADING_SPACE, '') === '') continue
      const [t, end] = trimContinuation(b)
      buf += t
      isEnd = end
    }
    const node = splitCommand(buf, model.escape)
    const cmd = node.cmd.toLowerCase()
    // ONBUILD's trigger is parsed as an instruction of its own (parseSubCommand).
    const sub = cmd === 'onbuild' && node.args !== '' ? splitCommand(node.args, model.escape) : null
    const heredocNode = sub ?? node
    const jsonOf = (n: typeof node): ReturnType<typeof jsonArray> =>
      JSON_INSTRUCTIONS.has(n.cmd.toLowerCase()) ? jsonArray(n.args) : null
    const json = jsonOf(node)
    const subJson = sub ? jsonOf(sub) : null
    const heredocs: string[] = []
    if (
      HEREDOC_INSTRUCTIONS.has(heredocNode.cmd.toLowerCase()) &&
      (sub ? subJson : json) === null &&
      buf.includes('<<')
    ) {
      for (const h of heredocsFromLine(buf)) {
        let terminated = false
        while (i < lines.length) {
          const l = lines[i]!
          i++
          let candidate = trimNewline(l.text)
          if (h.chomp) candidate = candidate.replace(/^\t+/, '')
          if (candidate === h.name) {
            terminated = true
            break
          }
        }
        if (!terminated) {
          problems.push({ line: startLine, message: 'unterminated heredoc' })
          return done()
        }
        heredocs.push(h.name)
      }
    }
    any = true
    const problem = (message: string): void => void problems.push({ line: startLine, message })
    const notStrings = (n: typeof node): void =>
      problem(`${n.cmd.toUpperCase()}: the JSON form must be an array of strings`)
    if (json === 'not strings') notStrings(node)
    if (sub && subJson === 'not strings') notStrings(sub)
    if (!INSTRUCTIONS.has(cmd)) {
      problem(`unknown instruction: ${node.cmd}`)
      continue
    }
    if (cmd !== 'arg' && cmd !== 'stopsignal') {
      for (const f of node.flags) {
        const name = f.replace(/^--/, '').split('=')[0] ?? ''
        if (!f.startsWith('--')) problem(`arg should start with -- : ${f}`)
        else if (!(FLAGS[cmd] ?? []).includes(name)) problem(`unknown flag: ${f.split('=')[0]}`)
      }
    }
    if (node.args === '' && NEEDS_ARGS[cmd]) problem(NEEDS_ARGS[cmd]!)
    if (
      (cmd === 'copy' || cmd === 'add') &&
      json === null &&
      node.args.split(WORD_SPLIT).length < 2
    ) {
      problem(
        `${cmd.toUpperCase()} requires at least two arguments, but only one was provided. Destination could not be determined`
      )
    }
    const instruction: DockerfileInstruction = {
      keyword: cmd.toUpperCase(),
      line: startLine,
      text: node.args,
      flags: node.flags,
      heredocs
    }
    if (sub) {
      const keyword = sub.cmd.toUpperCase()
      instruction.trigger = { ...instruction, keyword, text: sub.args, flags: sub.flags }
      if (keyword === 'ARG') {
        instruction.trigger.args = argDeclarations(sub.args, model.escape, startLine, first.text)
      }
    }
    if (cmd === 'from') {
      const args = node.args === '' ? [] : node.args.split(WORD_SPLIT)
      let name = ''
      if (args.length === 3 && (args[1] ?? '').toLowerCase() === 'as') {
        name = args[2] ?? ''
        if (!STAGE_NAME.test(name.toLowerCase())) {
          problem(
            `invalid name for build stage: "${name}", name can't start with a number or contain symbols`
          )
        }
      } else if (args.length !== 1) {
        problem('FROM requires either one or three arguments')
      }
      const platform = node.flags.find(f => f.startsWith('--platform='))
      stage = {
        index: model.stages.length,
        name,
        from: args[0] ?? '',
        platform: platform ? platform.slice('--platform='.length) : '',
        line: startLine,
        args: [],
        instructions: []
      }
      model.stages.push(stage)
      continue
    }
    if (cmd === 'onbuild') {
      const trigger = (sub?.cmd ?? '').toUpperCase()
      if (!sub) problem('ONBUILD requires at least one argument')
      else if (trigger === 'ONBUILD')
        problem("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
      else if (trigger === 'MAINTAINER' || trigger === 'FROM')
        problem(`${trigger} isn't allowed as an ONBUILD trigger`)
    }
    if (cmd === 'arg') {
      const decl = argDeclarations(node.args, model.escape, startLine, first.text)
      instruction.args = decl
      if (decl.length === 0) problem('ARG requires at least one argument')
      if (decl.some(a => a.name === '')) problem('ARG names can not be blank')
      if (!stage) {
        model.globalArgs.push(...decl)
        continue
      }
      stage.args.push(...decl)
    } else if (cmd === 'env' || cmd === 'label') {
      const why = nameValProblem(node.args, model.escape, cmd.toUpperCase())
      if (why) problem(why)
    }
    if (!stage) {
      problem('no build stage in current context')
      continue
    }
    stage.instructions.push(instruction)
  }
  if (!any && problems.length === 0)
    problems.push({ line: Math.max(1, lines.length), message: 'file with no instructions' })
  return done()
}

/** splitCommand and extractBuilderFlags (split_command.go). */
function splitCommand(
  line: string,
  escape: string
): { cmd: string; flags: string[]; args: string } {
  const trimmed = trimSpace(line)
  const m = WORD_SPLIT.exec(trimmed)
  if (!m) return { cmd: trimmed, flags: [], args: '' }
  const cmd = trimmed.slice(0, m.index)
  const rest = trimmed.slice(m.index + m[0].length)
  const { args, flags } = builderFlags(rest, escape)
  return { cmd, flags, args: trimSpace(args) }
}

function builderFlags(line: string, escape: string): { args: string; flags: string[] } {
  const flags: string[] = []
  let pos = 0
  for (;;) {
    while (pos < line.length && GO_SPACE.test(line[pos]!)) pos++
    if (pos >= line.length) return { args: '', flags }
    if (!line.startsWith('--', pos)) return { args: line.slice(pos), flags }
    let word = ''
    let blankOk = false
    let quote = ''
    let j = pos
    for (; j < line.length; j++) {
      const ch = line[j]!
      if (quote) {
        if (ch === quote) {
          quote = ''
          continue
        }
        if (ch === escape) {
          if (j + 1 === line.length) {
            quote = ''
            continue
          }
          j++
          word += line[j]
          continue
        }
        word += ch
        continue
      }
      if (GO_SPACE.test(ch)) break
      if (ch === "'" || ch === '"') {
        quote = ch
        blankOk = true
        continue
      }
      if (ch === escape) {
        if (j + 1 === line.length) continue
        j++
        word += line[j]
        continue
      }
      word += ch
    }
    if (word === '--') return { args: line.slice(j), flags }
    if (blankOk || word.length > 0) flags.push(word)
    pos = j
  }
}

/** parseJSON: the strings of a JSON array, 'not strings' for an array of other things, else null. */
export function jsonArray(args: string): string[] | 'not strings' | null {
  const rest = args.replace(LEADING_SPACE, '')
  if (!rest.startsWith('[')) return null
  let parsed: unknown
  try {
    parsed = JSON.parse(rest)
  } catch {
    return null
  }
  if (!Array.isArray(parsed)) return null
  return parsed.every(x => typeof x === 'string') ? (parsed as string[]) : 'not strings'
}

/** parseWords (line_parsers.go): words split on spaces outside quotes, quotes and escapes kept. */
function parseWords(rest: string, escape: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let blankOk = false
  let quote = ''
  const chars = [...rest]
  for (let p = 0; p < chars.length; p++) {
    const ch = chars[p]!
    if (!inWord && !quote) {
      if (GO_SPACE.test(ch)) continue
      inWord = true
    }
    if (quote) {
      if (ch === quote) {
        quote = ''
        word += ch
        continue
      }
      // The escape works inside double quotes only.
      if (ch === escape && quote !== "'") {
        if (p + 1 === chars.length) {
          quote = ''
          continue
        }
        word += ch
        p++
        word += chars[p]
        continue
      }
      word += ch
      continue
    }
    if (GO_SPACE.test(ch)) {
      if (blankOk || word.length > 0) words.push(word)
      word = ''
      blankOk = false
      inWord = false
      continue
    }
    if (ch === "'" || ch === '"') {
      quote = ch
      blankOk = true
    }
    if (ch === escape) {
      if (p + 1 === chars.length) continue
      word += ch
      p++
      word += chars[p]
      continue
    }
    word += ch
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word)
  return words
}

/** instructions parseArg over parser parseNameOrNameVal. */
function argDeclarations(
  rest: string,
  escape: string,
  line: number,
  firstLine: string
): ArgDeclaration[] {
  const col = Math.max(1, firstLine.search(/\S/) + 1)
  return parseWords(rest, escape).map(w => {
    const eq = w.indexOf('=')
    return eq < 0
      ? { name: w, line, col }
      : { name: w.slice(0, eq), default: w.slice(eq + 1), line, col }
  })
}

/** parseNameVal's errors for ENV and LABEL. */
function nameValProblem(rest: string, escape: string, key: string): string | null {
  const words = parseWords(rest, escape)
  if (words.length === 0) return `${key} requires at least one argument`
  if (!words[0]!.includes('=')) {
    return rest.split(WORD_SPLIT).length < 2 ? `${key} must have two arguments` : null
  }
  const bad = words.find(w => !w.includes('='))
  return bad === undefined
    ? null
    : `Syntax error - can't find = in "${bad}". Must be of the form: name=value`
}

/** heredocsFromLine and heredocFromMatch (parser.go): `<<WORD` shell words of the line. */
function heredocsFromLine(line: string): { name: string; chomp: boolean }[] {
  const out: { name: string; chomp: boolean }[] = []
  for (const word of shellWords(line, true) ?? []) {
    const m = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/.exec(word)
    if (!m || (m[3] ?? '') === '') continue
    const names = shellWords(m[3] ?? '', false)
    if (!names || names.length !== 1) continue
    out.push({ name: names[0]!, chomp: m[2] === '-' })
  }
  return out
}

/**
 * The shell lexer's word split (shell/lex.go ProcessWords, escape `\`, unset variables kept):
 * raw keeps quotes and escapes as written; otherwise they are removed. null on an open quote.
 */
function shellWords(s: string, raw: boolean): string[] | null {
  const words: string[] = []
  let word = ''
  let inWord = false
  for (let p = 0; p < s.length; p++) {
    const ch = s[p]!
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      continue
    }
    inWord = true
    if (ch === "'") {
      const end = s.indexOf("'", p + 1)
      if (end < 0) return null
      word += raw ? s.slice(p, end + 1) : s.slice(p + 1, end)
      p = end
    } else if (ch === '"') {
      let q = p + 1
      let inner = ''
      for (; q < s.length && s[q] !== '"'; q++) {
        if (s[q] === '\\' && q + 1 < s.length) {
          inner += raw || !'"$\\'.includes(s[q + 1]!) ? s[q]! + s[q + 1]! : s[q + 1]!
          q++
        } else inner += s[q]
      }
      if (q >= s.length) return null
      word += raw ? `"${inner}"` : inner
      p = q
    } else if (ch === '\\') {
      if (p + 1 < s.length) {
        word += raw ? ch + s[p + 1]! : s[p + 1]!
        p++
      }
    } else if (ch === '$' && s[p + 1] === '{') {
      const end = s.indexOf('}', p)
      const stop = end < 0 ? s.length : end + 1
      word += s.slice(p, stop)
      p = stop - 1
    } else word += ch
  }
  if (inWord) words.push(word)
  return words
}

/** parser.DetectSyntax: `# syntax=` (or `// syntax=`) among the leading directives, first word. */
function detectSyntax(text: string): string {
  let t = text.replace(/^\uFEFF/, '')
  if (t.startsWith('#!')) t = t.slice(t.indexOf('\n') + 1 || t.length)
  for (const comment of ['#', '//']) {
    for (const line of t.split('\n')) {
      const l = line.replace(/\r$/, '')
      if (!l.startsWith(comment)) break
      const m = DIRECTIVE.exec(l.slice(comment.length).replace(LEADING_SPACE, ''))
      const name = (m?.[1] ?? '').toLowerCase()
      if (!m || !['syntax', 'escape', 'check'].includes(name)) break
      if (name === 'syntax') return (m[2] ?? '').split(' ')[0] ?? ''
    }
  }
  return ''
}

/** The stage a build ends in: `target` (case-insensitive) when given and present, else the last. */
export function finalStage(
  model: DockerfileModel,
  target: string | null
): DockerfileStage | undefined {
  if (target) {
    const t = target.toLowerCase()
    const found = model.stages.find(s => s.name !== '' && s.name.toLowerCase() === t)
    if (found) return found
  }
  return model.stages[model.stages.length - 1]
}

/**
 * The final stage and every stage it is FROM, transitively: whose history the image carries.
 * As dockerfile2llb's addState, a FROM names an earlier stage by its name (BuildKit keeps stage
 * names lower case; the reference is compared after ARG expansion); FROM takes no stage index
 * (only COPY --from does, and copies carry no history).
 */
export function imageStages(
  model: DockerfileModel,
  target: string | null,
  buildArgs: Record<string, string> = {}
): DockerfileStage[] {
  const out: DockerfileStage[] = []
  let s = finalStage(model, target)
  while (s && !out.includes(s)) {
    out.push(s)
    s = baseStage(model, s, buildArgs)
  }
  return out
}

function baseStage(
  model: DockerfileModel,
  stage: DockerfileStage,
  buildArgs: Record<string, string>
): DockerfileStage | undefined {
  const base = expandWord(stage.from, globalArgValues(model, buildArgs))
  return model.stages
    .slice(0, stage.index)
    .reverse()
    .find(s => s.name !== '' && s.name.toLowerCase() === base)
}

/**
 * What a stage dispatches, in order: the ONBUILD triggers of the stage it is FROM (convert.go
 * resolveStages: a stage's ONBUILD rules run in the stages built on it, not in itself), then its
 * own instructions.
 */
export function dispatchedInstructions(
  model: DockerfileModel,
  stage: DockerfileStage,
  buildArgs: Record<string, string> = {}
): DockerfileInstruction[] {
  const base = baseStage(model, stage, buildArgs)
  const triggers = (base?.instructions ?? []).flatMap(i => (i.trigger ? [i.trigger] : []))
  return [...triggers, ...stage.instructions]
}

/** The ARGs a stage declares as it is dispatched: its base's ONBUILD ARGs, then its own. */
export function dispatchedArgs(
  model: DockerfileModel,
  stage: DockerfileStage,
  buildArgs: Record<string, string> = {}
): ArgDeclaration[] {
  return dispatchedInstructions(model, stage, buildArgs).flatMap(i => i.args ?? [])
}

/**
 * The stages a build of `target` dispatches (convert.go allReachableStages): the final stage, the
 * stage it is FROM, and the stages its COPY --from (a name or an index) and RUN --mount from=
 * (a name) read, ONBUILD triggers included, transitively.
 */
export function reachableStages(
  model: DockerfileModel,
  target: string | null,
  buildArgs: Record<string, string> = {}
): DockerfileStage[] {
  const byName = (name: string): DockerfileStage | undefined =>
    model.stages.find(s => s.name !== '' && s.name.toLowerCase() === name.toLowerCase())
  const out: DockerfileStage[] = []
  const visit = (s: DockerfileStage | undefined): void => {
    if (!s || out.includes(s)) return
    out.push(s)
    visit(baseStage(model, s, buildArgs))
    for (const i of dispatchedInstructions(model, s, buildArgs)) {
      for (const from of stageSources(i)) {
        visit(
          /^\d+$/.test(from) && i.keyword === 'COPY' ? model.stages[Number(from)] : byName(from)
        )
      }
    }
  }
  visit(finalStage(model, target))
  return out
}

/** The `from` of COPY --from and of each RUN --mount, as written. */
function stageSources(i: DockerfileInstruction): string[] {
  const out: string[] = []
  for (const flag of i.flags) {
    if (i.keyword === 'COPY' && flag.startsWith('--from=')) out.push(flag.slice('--from='.length))
    if (i.keyword !== 'RUN' || !flag.startsWith('--mount=')) continue
    for (const field of flag.slice('--mount='.length).split(',')) {
      const eq = field.indexOf('=')
      if (eq > 0 && field.slice(0, eq).trim().toLowerCase() === 'from') {
        out.push(field.slice(eq + 1))
      }
    }
  }
  return out
}

/**
 * The build args BuildKit reads for a build of `target`: the ARGs the reachable stages dispatch
 * (convert.go dispatchArg), ONBUILD ARGs of a stage they are FROM included, and the global ARGs a
 * FROM or --platform names (buildDispatchStates expands them for every stage, and fails on an
 * empty base name), with the globals whose defaults those take (buildMetaArgs deps). An ARG of a
 * stage the build never reaches, or a global nothing names, takes nothing.
 */
export function consumedArgs(
  model: DockerfileModel,
  target: string | null,
  buildArgs: Record<string, string> = {}
): string[] {
  const names = new Set<string>()
  const globals = new Map(model.globalArgs.map(a => [a.name, a]))
  const useGlobal = (text: string): void => {
    for (const m of text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
      const name = m[1]!
      const declared = globals.get(name)
      if (!declared || names.has(name)) continue
      names.add(name)
      if (!Object.hasOwn(buildArgs, name)) useGlobal(declared.default ?? '')
    }
  }
  for (const s of model.stages) useGlobal(`${s.from} ${s.platform}`)
  for (const s of reachableStages(model, target, buildArgs)) {
    for (const a of dispatchedArgs(model, s, buildArgs)) names.add(a.name)
  }
  names.delete('')
  return [...names]
}

/** Global ARG values as buildMetaArgs makes them: defaults expanded in order, build args win. */
function globalArgValues(
  model: DockerfileModel,
  buildArgs: Record<string, string>
): Map<string, string> {
  const env = new Map<string, string>()
  for (const a of model.globalArgs) {
    if (Object.prototype.hasOwnProperty.call(buildArgs, a.name)) env.set(a.name, buildArgs[a.name]!)
    else if (a.default !== undefined) env.set(a.name, expandWord(a.default, env))
    else env.delete(a.name)
  }
  return env
}

/**
 * The FROM image of a stage with ARGs expanded as BuildKit does (global ARG defaults overridden
 * by build args); null for a stage reference or scratch.
 */
export function resolveFrom(
  model: DockerfileModel,
  stage: DockerfileStage,
  buildArgs: Record<string, string>
): string | null {
  const image = expandWord(stage.from, globalArgValues(model, buildArgs))
  if (image === 'scratch') return null
  if (baseStage(model, stage, buildArgs)) return null
  return image
}

/** shell/lex.go ProcessWord: quotes removed, `$X`, `${X}`, `${X:-w}`, `${X-w}`, `${X:+w}`, `${X+w}`. */
function expandWord(word: string, env: Map<string, string>): string {
  let out = ''
  let quote = ''
  for (let p = 0; p < word.length; p++) {
    const ch = word[p]!
    if (quote === "'") {
      if (ch === "'") quote = ''
      else out += ch
      continue
    }
    if (ch === '"') {
      quote = quote ? '' : '"'
      continue
    }
    if (ch === "'" && !quote) {
      quote = "'"
      continue
    }
    if (ch === '\\' && p + 1 < word.length) {
      p++
      out += word[p]
      continue
    }
    if (ch !== '$') {
      out += ch
      continue
    }
    if (word[p + 1] === '{') {
      const end = word.indexOf('}', p)
      if (end < 0) {
        out += word.slice(p)
        break
      }
      const body = word.slice(p + 2, end)
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?$/s.exec(body)
      p = end
      if (!m) continue
      const name = m[1] ?? ''
      const set = env.has(name)
      const value = env.get(name) ?? ''
      const op = m[2]
      const alt = expandWord(m[3] ?? '', env)
      if (op === ':-') out += value !== '' ? value : alt
      else if (op === '-') out += set ? value : alt
      else if (op === ':+') out += value !== '' ? alt : ''
      else if (op === '+') out += set ? alt : ''
      else out += value
      continue
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(p + 1))
    if (!m) {
      out += ch
      continue
    }
    out += env.get(m[0]) ?? ''
    p += m[0].length
  }
  return out
}

/** The names BuildKit takes build args for, and the stage names, from a model. */
export function dockerfileInfo(model: DockerfileModel): DockerfileInfo {
  const args: string[] = []
  for (const a of [...model.globalArgs, ...model.stages.flatMap(s => s.args)]) {
    if (a.name !== '' && !args.includes(a.name)) args.push(a.name)
  }
  return { args, stages: model.stages.map(s => s.name).filter(n => n !== ''), escape: model.escape }
}

/** Scans Dockerfile text: what plan.ts needs, and BuildKit's parse errors as problems. */
export function scanDockerfile(text: string): DockerfileInfo & { problems: ScanProblem[] } {
  const model = parseDockerfile(text)
  return { ...dockerfileInfo(model), problems: model.problems }
}

/** Reads and parses a Dockerfile; `shown` names it in errors (relative to the working directory). */
export function readDockerfileModel(file: string, shown: string): DockerfileModel {
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
  const { problems, ...model } = parseDockerfile(text)
  if (problems.length > 0) {
    throw new UserError(
      problems.map(p => ({ file: shown, line: p.line, col: 1, message: p.message }))
    )
  }
  return model
}

/** Reads and scans a Dockerfile (see readDockerfileModel). */
export function readDockerfile(file: string, shown: string): DockerfileInfo {
  return dockerfileInfo(readDockerfileModel(file, shown))
}

/** True when a stage named `name` exists (stage names are case-insensitive). */
export function hasStage(info: DockerfileInfo, name: string): boolean {
  return info.stages.some(s => s.toLowerCase() === name.toLowerCase())
}
