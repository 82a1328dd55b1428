// convox.yml: interpolation, parsing with positions and what a build needs of it. Everything a
// build does not use is accepted as it is: the rack validates it at release time.
import fs from 'node:fs'
import path from 'node:path'
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Scalar,
  type Document,
  type Node,
  type Pair,
  type YAMLMap
} from 'yaml'
import { UserError, type Problem } from './errors.js'
import { imageReferenceProblem } from './registry/reference.js'
import {
  interpolate,
  isPlainVariableName,
  replacementsIn,
  sourceOffset,
  type Interpolated
} from './interpolate.js'
import type { Logger } from './log.js'

export const DEFAULT_DOCKERFILE = 'Dockerfile'
/** The rack's service name rule (pkg/manifest validate.go); names end up in image tags. */
export const SERVICE_NAME = /^[a-z][a-z0-9-]*$/

export interface Position {
  line: number
  col: number
}

/** A service as written: build services carry the path and Dockerfile name, unresolved. */
export interface ParsedService {
  name: string
  /** Position of the service's key. */
  at: Position
  /** Set for image services. */
  image?: string
  /** Set for build services: `.` and `Dockerfile` where not given (the rack's defaults). */
  build?: {
    path: string
    manifest: string
    /** Where to point at for problems with the path / the Dockerfile. */
    pathAt: Position
    manifestAt: Position
  }
}

export interface ParsedManifest {
  /** The manifest path as the user gave it, relative to the working directory. */
  file: string
  /** Raw, uninterpolated text (the rack stores it on the build). */
  text: string
  services: ParsedService[]
}

/** A build service with its context and Dockerfile checked on disk. */
export interface ManifestBuild {
  /** Relative to the working directory, POSIX separators, `.` for the root. */
  context: string
  /** Relative to context, POSIX separators. */
  dockerfile: string
  contextPath: string
  dockerfilePath: string
}

export interface ManifestService {
  name: string
  at: Position
  image?: string
  build?: ManifestBuild
}

export interface Manifest {
  file: string
  /** Absolute path of the manifest. */
  path: string
  text: string
  services: ManifestService[]
}

export interface ParseOptions {
  file: string
  env: NodeJS.ProcessEnv
  logger: Logger
}

/** Interpolates and parses manifest text; throws one UserError with every problem found. */
export function parseManifest(text: string, options: ParseOptions): ParsedManifest {
  const { problems, ...parsed } = new ManifestParser(text, options).parse()
  if (problems.length > 0) throw new UserError(problems)
  return parsed
}

export interface LoadOptions {
  /** Absolute working directory. */
  workingDirectory: string
  /** Manifest path relative to the working directory, as given. */
  manifest: string
  env: NodeJS.ProcessEnv
  logger: Logger
}

/** Reads, parses and checks the manifest and every build's context and Dockerfile. */
export function loadManifest(options: LoadOptions): Manifest {
  const { workingDirectory, manifest, env, logger } = options
  const file = manifest
  const abs = path.resolve(workingDirectory, manifest)
  let text: string
  try {
    text = fs.readFileSync(abs, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT'
        ? `no such file in ${workingDirectory}`
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : `cannot be read (${code ?? String(e)})`
    throw new UserError({ input: 'manifest', message: `${manifest} ${why}` })
  }
  // Problems of the text and of the disk are reported together.
  const { problems, ...parsed } = new ManifestParser(text, { file, env, logger }).parse()
  const services: ManifestService[] = []
  const root = realpathOrSelf(workingDirectory)
  for (const s of parsed.services) {
    if (!s.build) {
      services.push({ name: s.name, at: s.at, image: s.image })
      continue
    }
    const build = resolveBuild(s.build, workingDirectory, root, file, problems)
    if (build) services.push({ name: s.name, at: s.at, build })
  }
  if (problems.length > 0) throw new UserError(problems)
  return { file, path: abs, text, services }
}

function resolveBuild(
  b: NonNullable<ParsedService['build']>,
  workingDirectory: string,
  root: string,
  file: string,
  problems: Problem[]
): ManifestBuild | undefined {
  const fail = (at: Position, message: string): undefined => {
    problems.push({ file, ...at, message })
    return undefined
  }
  if (isAbsolutePath(b.path)) {
    return fail(b.pathAt, `build path "${b.path}" must be relative to the working directory`)
  }
  const contextPath = path.resolve(workingDirectory, b.path)
  if (!inside(workingDirectory, contextPath)) {
    return fail(b.pathAt, `build path "${b.path}" is outside the working directory`)
  }
  const stat = statOrNull(contextPath)
  if (!stat) return fail(b.pathAt, `build path "${b.path}" does not exist`)
  if (!stat.isDirectory()) return fail(b.pathAt, `build path "${b.path}" is not a directory`)
  if (!inside(root, realpathOrSelf(contextPath))) {
    return fail(b.pathAt, `build path "${b.path}" leads outside the working directory (symlink)`)
  }
  if (isAbsolutePath(b.manifest)) {
    return fail(b.manifestAt, `Dockerfile "${b.manifest}" must be relative to the build path`)
  }
  const dockerfilePath = path.resolve(contextPath, b.manifest)
  const shown = posix(path.relative(workingDirectory, dockerfilePath))
  if (!inside(workingDirectory, dockerfilePath)) {
    return fail(b.manifestAt, `Dockerfile "${b.manifest}" is outside the working directory`)
  }
  const df = statOrNull(dockerfilePath)
  if (!df) return fail(b.manifestAt, `Dockerfile ${shown} does not exist`)
  if (!df.isFile()) return fail(b.manifestAt, `Dockerfile ${shown} is not a file`)
  if (!inside(root, realpathOrSelf(dockerfilePath))) {
    return fail(b.manifestAt, `Dockerfile ${shown} leads outside the working directory (symlink)`)
  }
  return {
    context: posix(path.relative(workingDirectory, contextPath)) || '.',
    dockerfile: posix(path.relative(contextPath, dockerfilePath)),
    contextPath,
    dockerfilePath
  }
}

function isAbsolutePath(p: string): boolean {
  return path.isAbsolute(p) || path.win32.isAbsolute(p)
}

function inside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel))
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p)
  } catch {
    return null
  }
}

function realpathOrSelf(p: string): string {
  try {
    return fs.realpathSync(p)
  } catch {
    return p
  }
}

function posix(p: string): string {
  return p.split(path.sep).join('/')
}

type Entry = { key: string; keyNode: Node | null; value: Node | null; pair: Pair }

class ManifestParser {
  private readonly problems: Problem[] = []
  private merges = 0
  private readonly lines = new LineCounter()
  private readonly interpolated: Interpolated
  private doc!: Document.Parsed

  constructor(
    private readonly source: string,
    private readonly options: ParseOptions
  ) {
    this.lines.addNewLine(0)
    for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) {
      this.lines.addNewLine(i + 1)
    }
    this.interpolated = interpolate(source, options.env)
  }

  /** Throws only for YAML syntax errors; every other problem is returned with what parsed. */
  parse(): ParsedManifest & { problems: Problem[] } {
    const { file, logger } = this.options
    for (const r of this.interpolated.replacements) {
      if (r.set) continue
      const hint = isPlainVariableName(r.name)
        ? ''
        : ` (the rack looks up a variable named exactly "${r.name}": no defaults or other shell forms)`
      logger.warning(`\${${r.name}} is not set: it becomes empty${hint}`, {
        file,
        ...this.lines.linePos(r.start)
      })
    }
    // YAML 1.1 as the rack's gopkg.in/yaml.v2 (merge keys, yes/no booleans); duplicate keys
    // are checked below only where builds care, as yaml.v2 accepts them elsewhere.
    this.doc = parseDocument(this.interpolated.text, {
      version: '1.1',
      prettyErrors: false,
      uniqueKeys: false
    })
    for (const e of this.doc.errors) {
      this.problems.push(this.problem(e.pos[0], yamlMessage(e.message)))
    }
    if (this.problems.length > 0) throw new UserError(this.problems)

    const services = this.services()
    return { file, text: this.source, services, problems: this.problems }
  }

  private services(): ParsedService[] {
    const contents = this.deref(this.doc.contents)
    if (contents === null || (isScalar(contents) && contents.value === null)) return []
    if (!isMap(contents)) {
      this.problems.push(this.problem(start(contents), 'the manifest must be a YAML mapping'))
      return []
    }
    const top = this.entries(contents, 'the manifest')
    const servicesEntry = top.get('services')
    if (!servicesEntry) {
      for (const k of top.keys()) {
        if (k !== 'services' && /^services?s*$|^service$/i.test(k)) {
          const e = top.get(k)
          this.problems.push(
            this.problem(start(e?.keyNode), `unknown key "${k}": did you mean "services"?`)
          )
        }
      }
      return []
    }
    const node = this.deref(servicesEntry.value)
    if (node === null || (isScalar(node) && node.value === null)) return []
    if (!isMap(node)) {
      this.problems.push(
        this.problem(start(node), 'services must be a map of service names to their definitions')
      )
      return []
    }
    const out: ParsedService[] = []
    for (const [name, e] of this.entries(node, 'services')) {
      const s = this.service(name, e)
      if (s) out.push(s)
    }
    return out
  }

  private service(name: string, e: Entry): ParsedService | undefined {
    const at = this.pos(start(e.keyNode))
    if (!SERVICE_NAME.test(name)) {
      this.problems.push({
        file: this.options.file,
        ...at,
        message: `service name "${name}" is invalid: it must start with a lowercase letter and hold only lowercase letters, digits and dashes`
      })
    }
    const node = this.deref(e.value)
    // A service without build or image builds `.` with `Dockerfile`, as on the rack.
    const defaults = { path: '.', manifest: DEFAULT_DOCKERFILE, pathAt: at, manifestAt: at }
    if (node === null || (isScalar(node) && node.value === null))
      return { name, at, build: defaults }
    if (!isMap(node)) {
      this.problems.push(this.problem(start(node), `service ${name} must be a map`))
      return undefined
    }
    const fields = this.entries(node, `service ${name}`)
    // `image: ${X}` with X unset would silently build `.` on the rack: refuse instead.
    for (const key of ['build', 'image']) {
      const f = fields.get(key)
      if (!f || nonNull(f)) continue
      const why = this.emptied(f.value ?? f.keyNode, f.value ? 0 : Infinity)
      if (why) {
        this.problems.push(this.problem(start(f.keyNode), `service ${name}: ${key} is empty${why}`))
        return undefined
      }
    }
    const build = nonNull(fields.get('build'))
    const image = nonNull(fields.get('image'))
    if (build && image) {
      const later = start(build.keyNode) > start(image.keyNode) ? build : image
      this.problems.push(
        this.problem(
          start(later.keyNode),
          `service ${name} has both build and image: a service either builds or uses an image`
        )
      )
      return undefined
    }
    if (image) return this.imageService(name, at, image)
    if (!build) return { name, at, build: defaults }
    return this.buildService(name, at, build)
  }

  private imageService(name: string, at: Position, e: Entry): ParsedService | undefined {
    const node = this.deref(e.value)
    if (!isScalar(node)) {
      this.problems.push(this.problem(start(node), `service ${name}: image must be a string`))
      return undefined
    }
    const image = scalarText(node)
    const why = imageReferenceProblem(image)
    if (why) {
      this.problems.push(
        this.problem(start(node), `service ${name}: image "${image}" ${why}${this.emptied(node)}`)
      )
      return undefined
    }
    return { name, at, image }
  }

  private buildService(name: string, at: Position, e: Entry): ParsedService | undefined {
    const node = this.deref(e.value)
    const nodeAt = this.pos(start(node))
    if (isScalar(node)) {
      // yaml.v2 rejects a number or boolean here; its 1.1 resolver differs from ours (`.` is a
      // float to us), so take the text and let the path checks speak.
      const value = scalarText(node)
      const p = value === '' ? '.' : value
      if (value === '' && this.emptied(node)) {
        this.problems.push(
          this.problem(start(node), `service ${name}: build path is empty${this.emptied(node)}`)
        )
        return undefined
      }
      return {
        name,
        at,
        build: { path: p, manifest: DEFAULT_DOCKERFILE, pathAt: nodeAt, manifestAt: nodeAt }
      }
    }
    if (!isMap(node)) {
      this.problems.push(
        this.problem(
          start(node),
          `service ${name}: build must be a path or a map with path and manifest`
        )
      )
      return undefined
    }
    const fields = this.entries(node, `service ${name} build`)
    const text = (key: string): { value: string; at: Position } | null | undefined => {
      const raw = fields.get(key)
      const f = nonNull(raw)
      if (!f) {
        const why = raw ? this.emptied(raw.value ?? raw.keyNode, raw.value ? 0 : Infinity) : ''
        if (!why) return null
        this.problems.push(
          this.problem(start(raw?.keyNode), `service ${name}: build.${key} is empty${why}`)
        )
        return undefined
      }
      const v = this.deref(f.value)
      if (!isScalar(v)) {
        this.problems.push(this.problem(start(v), `service ${name}: build.${key} must be a string`))
        return undefined
      }
      const value = scalarText(v)
      if (value === '' && this.emptied(v)) {
        this.problems.push(
          this.problem(start(v), `service ${name}: build.${key} is empty${this.emptied(v)}`)
        )
        return undefined
      }
      return { value, at: this.pos(start(v)) }
    }
    const p = text('path')
    const m = text('manifest')
    if (p === undefined || m === undefined) return undefined
    for (const [key, f] of fields) {
      if (key === 'path' || key === 'manifest') continue
      const where = { file: this.options.file, ...this.pos(start(f.keyNode)) }
      if (key === 'args') {
        this.options.logger.warning(
          `service ${name}: build.args is not used by Convox builds; pass build args with the build-args input`,
          where
        )
      } else {
        this.options.logger.warning(`service ${name}: unknown key build.${key} is ignored`, where)
      }
    }
    return {
      name,
      at,
      build: {
        path: p?.value || '.',
        manifest: m?.value || DEFAULT_DOCKERFILE,
        pathAt: p?.at ?? nodeAt,
        manifestAt: m?.at ?? nodeAt
      }
    }
  }

  /** Keys of a map in order, `<<` merges applied (explicit keys win), duplicates reported. */
  private entries(map: YAMLMap, what: string, depth = 0): Map<string, Entry> {
    const out = new Map<string, Entry>()
    const merged: Map<string, Entry>[] = []
    for (const pair of map.items as Pair[]) {
      const keyNode = (pair.key ?? null) as Node | null
      if (isMergeKey(keyNode)) {
        // Bounded, so nested aliases cannot blow up (the "billion laughs").
        if (depth > 20 || ++this.merges > 10000) {
          if (this.merges === 10001)
            this.problems.push(this.problem(start(keyNode), 'too many merged aliases'))
          continue
        }
        const v = this.deref((pair.value ?? null) as Node | null)
        const sources = isSeq(v) ? (v.items as Node[]).map(i => this.deref(i)) : [v]
        for (const src of sources) {
          if (isMap(src)) merged.push(this.entries(src, what, depth + 1))
        }
        continue
      }
      const key = keyText(keyNode)
      const prev = out.get(key)
      if (prev) {
        this.problems.push(
          this.problem(
            start(keyNode),
            `${what}: key "${key}" is defined twice (first on line ${this.pos(start(prev.keyNode)).line})`
          )
        )
        continue
      }
      out.set(key, { key, keyNode, value: (pair.value ?? null) as Node | null, pair })
    }
    for (const m of merged) {
      for (const [k, e] of m) if (!out.has(k)) out.set(k, e)
    }
    return out
  }

  private deref(node: Node | null | undefined, depth = 0): Node | null {
    if (node === null || node === undefined) return null
    if (isAlias(node)) {
      if (depth > 20) return null
      return this.deref((node.resolve(this.doc) ?? null) as Node | null, depth + 1)
    }
    return node
  }

  /** ` (${X} was not set)` when unset variables made this node's value. */
  private emptied(node: Node | null, slack = 0): string {
    if (!node?.range) return ''
    const end = Math.min(node.range[2] + slack, this.lineEnd(node.range[2]))
    const unset = replacementsIn(this.interpolated, node.range[0], end).filter(r => !r.set)
    if (unset.length === 0) return ''
    const names = unset.map(r => `\${${r.name}}`).join(', ')
    return ` (${names} ${unset.length === 1 ? 'is' : 'are'} not set and became empty)`
  }

  /** Offset of the end of the interpolated line holding offset. */
  private lineEnd(offset: number): number {
    const nl = this.interpolated.text.indexOf('\n', offset)
    return nl < 0 ? this.interpolated.text.length : nl
  }

  private pos(offset: number): Position {
    const p = this.lines.linePos(sourceOffset(this.interpolated, offset))
    return { line: Math.max(1, p.line), col: Math.max(1, p.col) }
  }

  private problem(offset: number, message: string): Problem {
    return { file: this.options.file, ...this.pos(offset), message }
  }
}

function nonNull(e: Entry | undefined): Entry | undefined {
  if (!e) return undefined
  const v = e.value
  if (v === null || (isScalar(v) && v.value === null)) return undefined
  return e
}

function start(node: Node | null | undefined): number {
  return node?.range?.[0] ?? 0
}

function isMergeKey(node: Node | null): boolean {
  if (!isScalar(node)) return false
  if (node.type && node.type !== Scalar.PLAIN) return false
  const v = node.value
  return v === '<<' || (typeof v === 'symbol' && v.description === '<<')
}

/** Keys as yaml.v2 names them: the scalar's text (`1` for an integer key). */
function keyText(node: Node | null): string {
  if (node === null) return ''
  if (isScalar(node)) return scalarText(node)
  return String((node as { toJSON?: () => unknown }).toJSON?.() ?? '')
}

/** A scalar as yaml.v2 decodes it into a string field: its text, whatever its type. */
function scalarText(node: Scalar): string {
  if (typeof node.value === 'string') return node.value
  if (node.value === null) return ''
  return node.source ?? String(node.value)
}

/** yaml's messages end with a position we report separately. */
function yamlMessage(message: string): string {
  return message.replace(/ at line \d+, column \d+[\s\S]*$/, '')
}
