// convox.yml as the rack reads it before building (pkg/build/buildkit.go: manifest.Load, then
// Validate): interpolated, decoded with yaml.v2's rules into the rack's types, every Load and
// Validate failure reported with its file position; then what a build needs of it, checked on disk.
import fs from 'node:fs'
import path from 'node:path'
import { LineCounter } from 'yaml'
import { isUserError, UserError, type Problem } from './errors.js'
import { imageReferenceProblem } from './registry/reference.js'
import {
  interpolate,
  isPlainVariableName,
  replacementsIn,
  sourceOffset,
  type Interpolated
} from './interpolate.js'
import type { Logger } from './log.js'
import { AT, Decoder, type Rec } from './manifest/decode.js'
import { attributes, rackRules } from './manifest/rack-rules.js'
import { MANIFEST, SERVICE, type Named } from './manifest/schema.js'
import { isNull, isPlainText, parseYaml, type GScalar, type GVal } from './manifest/yaml.js'
import type { GoType } from './manifest/decode.js'

export const DEFAULT_DOCKERFILE = 'Dockerfile'

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
  const root = realpathOrSelf(workingDirectory)
  const text = readManifest(workingDirectory, root, manifest, abs)
  // Problems of the text and of the disk are reported together.
  const { problems, ...parsed } = new ManifestParser(text, { file, env, logger }).parse()
  const services: ManifestService[] = []
  // Services sharing a build path and Dockerfile share what the disk says of them.
  const checked = new Map<string, ManifestBuild | BuildProblem>()
  for (const s of parsed.services) {
    if (!s.build) {
      services.push({ name: s.name, at: s.at, image: s.image })
      continue
    }
    const key = `${s.build.path}\0${s.build.manifest}`
    let build = checked.get(key)
    if (!build) checked.set(key, (build = resolveBuild(s.build, workingDirectory, root, file)))
    if ('message' in build) {
      const at = build.of === 'path' ? s.build.pathAt : s.build.manifestAt
      problems.push({ file, ...at, message: build.message })
    } else services.push({ name: s.name, at: s.at, build })
  }
  if (problems.length > 0) throw new UserError(problems)
  return { file, path: abs, text, services }
}

/** What is wrong with a build path (`path`) or its Dockerfile (`manifest`). */
interface BuildProblem {
  of: 'path' | 'manifest'
  message: string
}

function resolveBuild(
  b: { path: string; manifest: string },
  workingDirectory: string,
  root: string,
  file: string
): ManifestBuild | BuildProblem {
  const fail = (of: BuildProblem['of'], message: string): BuildProblem => ({ of, message })
  // The rack joins the path to the source root (filepath.Join), a leading `/` included.
  if (path.win32.isAbsolute(b.path) && !b.path.startsWith('/')) {
    return fail('path', `build path "${b.path}" must be relative to the working directory`)
  }
  const contextPath = path.resolve(path.join(workingDirectory, b.path))
  if (!inside(workingDirectory, contextPath)) {
    return fail('path', `build path "${b.path}" is outside the working directory`)
  }
  const stat = statOrNull(contextPath)
  if (!stat) return fail('path', `build path "${b.path}" does not exist`)
  if (!stat.isDirectory()) return fail('path', `build path "${b.path}" is not a directory`)
  if (!inside(root, realpathOrSelf(contextPath))) {
    return fail('path', `build path "${b.path}" leads outside the working directory (symlink)`)
  }
  if (path.win32.isAbsolute(b.manifest) && !b.manifest.startsWith('/')) {
    return fail('manifest', `Dockerfile "${b.manifest}" must be relative to the build path`)
  }
  const dockerfilePath = path.resolve(path.join(contextPath, b.manifest))
  const shown = posix(path.relative(workingDirectory, dockerfilePath))
  const why = fileInside(workingDirectory, root, dockerfilePath)
  if (why === 'outside') {
    return fail('manifest', `Dockerfile "${b.manifest}" is outside the working directory`)
  }
  if (why === 'missing') {
    return fail(
      'manifest',
      `no Dockerfile at ${shown} (build path "${b.path}", Dockerfile "${b.manifest}", from the working directory)${manifestFolderHint(workingDirectory, file, b)}`
    )
  }
  if (why) return fail('manifest', `Dockerfile ${shown} ${FILE_PROBLEMS[why]}`)
  return {
    context: posix(path.relative(workingDirectory, contextPath)) || '.',
    dockerfile: posix(path.relative(contextPath, dockerfilePath)),
    contextPath,
    dockerfilePath
  }
}

/**
 * When the manifest's own folder holds the missing Dockerfile: the working directory is likely
 * that folder (the rack reads build paths from where the source is unpacked).
 */
function manifestFolderHint(
  workingDirectory: string,
  file: string,
  b: { path: string; manifest: string }
): string {
  const folder = path.dirname(path.resolve(workingDirectory, file))
  if (folder === path.resolve(workingDirectory)) return ''
  const candidate = path.resolve(path.join(folder, b.path, b.manifest))
  if (!statOrNull(candidate)?.isFile()) return ''
  const rel = posix(path.relative(workingDirectory, folder))
  return `; ${posix(path.relative(workingDirectory, candidate))} exists: set working-directory to ${rel} (and the manifest relative to it)`
}

/**
 * The manifest's text, read only when it is a regular file inside the working directory once
 * links are resolved (as Dockerfiles): a link to ~/.docker/config.json or a kubeconfig would
 * otherwise be stored on the rack's build and in the export.
 */
function readManifest(workingDirectory: string, root: string, given: string, abs: string): string {
  const fail = (message: string): never => {
    throw new UserError({ input: 'manifest', message: `${given} ${message}` })
  }
  const why = fileInside(workingDirectory, root, abs)
  if (why === 'missing') fail(`no such file in ${workingDirectory}`)
  if (why === 'not-file' && statOrNull(abs)?.isDirectory()) fail('is a directory, not a file')
  if (why) fail(why === 'not-file' ? 'is not a regular file' : FILE_PROBLEMS[why])
  // What was checked is what is read: the resolved path, its last part not followed again.
  let fd: number | undefined
  try {
    fd = fs.openSync(fs.realpathSync(abs), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    if (!fs.fstatSync(fd).isFile()) fail('is not a regular file')
    return fs.readFileSync(fd, 'utf8')
  } catch (e) {
    if (isUserError(e)) throw e
    return fail(`cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

type FileProblem = 'outside' | 'missing' | 'not-file' | 'link-outside'

const FILE_PROBLEMS: Record<FileProblem, string> = {
  outside: 'is outside the working directory',
  missing: 'does not exist',
  'not-file': 'is not a file',
  'link-outside': 'leads outside the working directory (symlink)'
}

/** Why `abs` is not a regular file inside the working directory after resolving links, if so. */
function fileInside(workingDirectory: string, root: string, abs: string): FileProblem | undefined {
  if (!inside(workingDirectory, abs)) return 'outside'
  const stat = statOrNull(abs)
  if (!stat) return 'missing'
  if (!stat.isFile()) return 'not-file'
  if (!inside(root, realpathOrSelf(abs))) return 'link-outside'
  return undefined
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

function fieldType(t: GoType, key: string): GoType | undefined {
  return t.k === 'struct' && Object.hasOwn(t.fields, key) ? t.fields[key] : undefined
}

/**
 * What the rack makes of a key given twice in one mapping (decode.ts decodeAgain, as yaml.v2
 * decodes into manifest.Manifest and manifest.Service); null for a key the rack does not read.
 */
function givenAgain(t: GoType | undefined, second: GVal): string | null {
  if (!t) return null
  if (isNull(second)) return 'the later one is empty, so the rack drops what the first one gave'
  const u = t.k === 'ptr' ? t.elem : t
  if (u.k === 'custom' && u.appends)
    return "the rack reads both, the later one's entries after the first's"
  if (u.k === 'map') return 'the rack merges them, a name given in both taking the later value'
  if (u.k === 'struct') return 'the rack merges them, a key given in both taking the later value'
  return 'the rack uses the last one'
}

/** True when offset is inside a YAML comment: after a `#` that starts one on its line. */
function inComment(text: string, offset: number): boolean {
  const start = text.lastIndexOf('\n', offset - 1) + 1
  let quote = ''
  for (let i = start; i < offset; i++) {
    const c = text[i]!
    if (quote) {
      if (c === '\\' && quote === '"') i++
      else if (c === quote) quote = ''
    } else if ((c === '"' || c === "'") && /(^|[:\-[{,])\s*$/.test(text.slice(start, i))) {
      // A quote opens a scalar only where one starts.
      quote = c
    } else if (c === '#' && (i === start || /\s/.test(text[i - 1]!))) return true
  }
  return false
}

/** The rack's MapSlice sections: a plain `<<` merge key inside them is dropped by yaml.v2. */
const MAP_SLICES = ['services', 'resources', 'balancers', 'timers']

class ManifestParser {
  private readonly problems: Problem[] = []
  private readonly lines = new LineCounter()
  private readonly interpolated: Interpolated

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

  parse(): ParsedManifest & { problems: Problem[] } {
    const { file, logger } = this.options
    for (const r of this.interpolated.replacements) {
      // The rack interpolates comments too, where a value changes nothing.
      if (r.set || inComment(this.source, r.start)) continue
      const hint = isPlainVariableName(r.name)
        ? ''
        : ` (the rack looks up a variable named exactly "${r.name}": no defaults or other shell forms)`
      logger.warning(`\${${r.name}} is not set: it becomes empty${hint}`, {
        file,
        ...this.lines.linePos(r.start)
      })
    }
    const done = (services: ParsedService[]): ParsedManifest & { problems: Problem[] } => ({
      file,
      text: this.source,
      services,
      problems: this.problems
    })
    const yaml = parseYaml(this.interpolated.text)
    for (const p of yaml.problems) this.problems.push(this.problem(p.at, p.message))
    if (this.problems.length > 0 || !yaml.root) return done([])
    const root = yaml.root
    const d = new Decoder()
    if (root.kind !== 'map') {
      this.problems.push(
        this.problem(
          root.at,
          'the manifest must be a YAML mapping of sections (services, resources, ...)'
        )
      )
      return done([])
    }
    const m = (d.decode(root, MANIFEST, 'manifest') as Rec | undefined) ?? {}
    const named = (Array.isArray(m.services) ? m.services : []) as Named<Rec>[]
    const attrs = attributes(root, d)
    this.hints(root)
    const rules = rackRules({ manifest: m, services: named, at: root.at }, attrs)
    for (const p of [...d.problems, ...rules]) {
      const message = p.message.replace(/^manifest\.|^manifest: /, '')
      this.problems.push(this.problem(p.at, message + this.emptied(p.at)))
    }
    const services: ParsedService[] = []
    const seen = new Map<string, number>()
    for (const s of named) {
      const first = seen.get(s.name)
      if (first !== undefined) {
        // The rack keeps both and the second silently replaces the first at release.
        this.problems.push(
          this.problem(
            s.at,
            `service ${s.name} is defined twice (first on line ${this.pos(first).line}): rename one`
          )
        )
        continue
      }
      seen.set(s.name, s.at)
      const svc = this.service(s)
      if (svc) services.push(svc)
    }
    return done(services)
  }

  /** Warnings for what the rack reads otherwise than it looks. */
  private hints(root: GVal & { kind: 'map' }): void {
    const { file, logger } = this.options
    const warn = (at: number, message: string): void =>
      logger.warning(message, { file, ...this.pos(at) })
    const keys = new Set<string>()
    for (const e of root.entries) {
      if (e.key.kind === 'map' || e.key.kind === 'seq') continue
      const k = e.key.text
      const again = keys.has(k) ? givenAgain(fieldType(MANIFEST, k), e.value) : null
      if (again) warn(e.key.at, `key "${k}" is given twice: ${again}`)
      keys.add(k)
      if (!MAP_SLICES.includes(k) || e.merge) continue
      this.droppedMerges(e.value, k, warn, 0, new Set())
      if (k === 'services' && e.value.kind === 'map') {
        for (const s of e.value.entries) {
          if (s.merge || s.value.kind !== 'map') continue
          const seenKeys = new Map<string, number>()
          for (const f of s.value.entries) {
            if (f.merge || f.key.kind === 'map' || f.key.kind === 'seq') continue
            const prev = seenKeys.get(f.key.text)
            const again =
              prev === undefined ? null : givenAgain(fieldType(SERVICE, f.key.text), f.value)
            if (prev !== undefined && again) {
              warn(
                f.key.at,
                `services.${(s.key as GScalar).text}: key "${f.key.text}" is given twice (first on line ${this.pos(prev).line}): ${again}`
              )
            }
            seenKeys.set(f.key.text, f.key.at)
          }
        }
      }
    }
    if (!keys.has('services')) {
      for (const k of keys) {
        if (/^services?s*$|^service$/i.test(k)) {
          const e = root.entries.find(
            x => x.key.kind !== 'map' && x.key.kind !== 'seq' && x.key.text === k
          )
          warn(
            e?.key.at ?? 0,
            `unknown key "${k}" is ignored: did you mean "services"? (nothing is built)`
          )
        }
      }
    }
  }

  private droppedMerges(
    v: GVal,
    where: string,
    warn: (at: number, message: string) => void,
    depth: number,
    seen: Set<GVal>
  ): void {
    // A value an alias repeats is looked at once: its merge keys are warned of once.
    if (depth > 20 || seen.has(v)) return
    seen.add(v)
    if (v.kind === 'seq') {
      for (const i of v.items) this.droppedMerges(i, where, warn, depth + 1, seen)
    }
    if (v.kind !== 'map') return
    for (const e of v.entries) {
      if (e.merge) {
        warn(
          e.key.at,
          `${where}: the rack ignores a plain merge key (<<) under ${where.split('.')[0]}: its keys are not used; write "<<" (quoted) to merge, as the rack does then`
        )
        continue
      }
      const k = e.key.kind === 'map' || e.key.kind === 'seq' ? '?' : e.key.text
      this.droppedMerges(e.value, `${where}.${k}`, warn, depth + 1, seen)
    }
  }

  private service(s: Named<Rec>): ParsedService | undefined {
    const { name } = s
    const at = this.pos(s.at)
    const v = s.value
    const pos = (v[AT] ?? {}) as Record<string, number>
    const build = (v.build ?? {}) as Rec
    const bpos = (build[AT] ?? {}) as Record<string, number>
    const image = typeof v.image === 'string' ? v.image : ''
    const bpath = typeof build.path === 'string' ? build.path : ''
    const bmanifest = typeof build.manifest === 'string' ? build.manifest : ''
    // `image: ${X}` with X unset would silently build `.` on the rack: refuse instead.
    for (const [key, value, keyAt] of [
      ['image', image, pos['#image']],
      ['build', bpath, pos['#build']]
    ] as const) {
      if (value !== '' || keyAt === undefined) continue
      if (key === 'build' && (bmanifest !== '' || image !== '')) continue
      const why = this.emptied(keyAt)
      if (why) {
        this.problems.push(this.problem(keyAt, `service ${name}: ${key} is empty${why}`))
        return undefined
      }
    }
    for (const key of ['path', 'manifest'] as const) {
      const keyAt = bpos['#' + key]
      const value = key === 'path' ? bpath : bmanifest
      if (keyAt === undefined || value !== '' || image !== '') continue
      const why = this.emptied(keyAt)
      if (why) {
        this.problems.push(this.problem(keyAt, `service ${name}: build.${key} is empty${why}`))
        return undefined
      }
    }
    this.renumbered(name, 'image', pos.image)
    this.renumbered(name, 'build.path', bpos.path)
    this.renumbered(name, 'build.manifest', bpos.manifest)
    if (image !== '') {
      if (bpath !== '' || bmanifest !== '') {
        this.options.logger.warning(
          `service ${name}: build is ignored because image is set (the rack uses the image)`,
          { file: this.options.file, ...this.pos(pos['#build'] ?? s.at) }
        )
      }
      const why = imageReferenceProblem(image)
      if (why) {
        this.problems.push(
          this.problem(
            pos.image ?? s.at,
            `service ${name}: image "${image}" ${why}${this.emptied(pos['#image'] ?? s.at)}`
          )
        )
        return undefined
      }
      return { name, at, image }
    }
    if (Array.isArray(build.args) && build.args.length > 0) {
      this.options.logger.warning(
        `service ${name}: build.args is not used by Convox builds; pass build args with build-args (--build-args on the CLI)`,
        { file: this.options.file, ...this.pos(bpos['#args'] ?? s.at) }
      )
    }
    const buildAt = pos.build ?? s.at
    return {
      name,
      at,
      build: {
        path: bpath || '.',
        manifest: bmanifest || DEFAULT_DOCKERFILE,
        pathAt: this.pos(bpos.path ?? buildAt),
        manifestAt: this.pos(bpos.manifest ?? buildAt)
      }
    }
  }

  /** Warns where yaml.v2 turned a number or boolean into other text (`1.10` is `1.1`). */
  private renumbered(service: string, key: string, at: number | undefined): void {
    if (at === undefined) return
    const line = this.lineFrom(at)
    // Most values are plain text: parse again only what may be a number or boolean.
    if (isPlainText(line)) return
    const raw = parseYaml(line).root
    if (
      !raw ||
      raw.kind === 'map' ||
      raw.kind === 'seq' ||
      raw.kind === 'str' ||
      raw.kind === 'null'
    ) {
      return
    }
    const read = raw.kind === 'bool' ? 'a boolean' : 'a number'
    this.options.logger.warning(
      `service ${service}: ${key} ${raw.text} is ${read} to the rack, which uses its own spelling of it: quote it ("${raw.text}") to mean the text`,
      { file: this.options.file, ...this.pos(at) }
    )
  }

  private lineFrom(offset: number): string {
    const text = this.interpolated.text.slice(offset, this.lineEnd(offset))
    return text.replace(/\s+#.*$/, '')
  }

  /** ` (${X} is not set and became empty)` when unset or empty variables made the line from offset. */
  private emptied(offset: number): string {
    const empty = replacementsIn(this.interpolated, offset, this.lineEnd(offset)).filter(
      r => r.outStart === r.outEnd
    )
    if (empty.length === 0) return ''
    const names = empty.map(r => `\${${r.name}}`).join(', ')
    const are = empty.length === 1 ? 'is' : 'are'
    return empty.every(r => !r.set)
      ? ` (${names} ${are} not set and became empty)`
      : ` (${names} ${are} empty)`
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
