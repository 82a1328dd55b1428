// Reads BuildKit's `--progress rawjson` stream (one JSON SolveStatus per line, same for buildx
// and buildctl) into step states, readable log lines, and counts of cached / total steps.
import { Redactor } from '../secrets.js'

interface RawVertex {
  digest?: string
  name?: string
  started?: string
  completed?: string
  cached?: boolean
  error?: string
}
interface RawLog {
  vertex?: string
  stream?: number
  data?: string
}
interface RawWarning {
  vertex?: string
  short?: string
  detail?: string[]
  url?: string
  /** Set for the Dockerfile frontend's checks: the file it read (its `filename` option). */
  sourceInfo?: { filename?: string }
  range?: Array<{ start?: { line?: number } }>
}

/**
 * One of BuildKit's Dockerfile checks (moby/buildkit frontend/dockerfile/linter; a VertexWarning
 * of client/graph.go with the Dockerfile's sourceInfo and range).
 */
export interface BuildCheck {
  /** The rule, e.g. `FromAsCasing`; '' when BuildKit's text names none. */
  rule: string
  /** BuildKit's short text without its rule and `(line n)`. */
  message: string
  /** The rule's description. */
  detail: string
  url: string
  /** The file BuildKit read (its `filename` option, the Dockerfile's base name). */
  source: string
  line?: number
  /** The Dockerfile relative to the working directory, once mapped (run-build.ts). */
  file?: string
}
interface RawStatus {
  vertexes?: RawVertex[]
  logs?: RawLog[]
  warnings?: RawWarning[]
}

export interface Step {
  digest: string
  /** `#n` in the log, in order of first appearance. */
  number: number
  name: string
  started?: string
  completed?: string
  cached: boolean
  error?: string
}

/** A Dockerfile instruction (`[2/4] RUN ...`, `[base 1/3] FROM ...`), not BuildKit's internals. */
export function isDockerfileStep(name: string): boolean {
  return /^\[[^\]]*?\d+\/\d+\]/.test(name)
}

/** Collects one build's progress; `push` each stderr line of the engine. */
export class ProgressReader {
  private readonly steps = new Map<string, Step>()
  private readonly partial = new Map<string, string>()
  private readonly lines: string[] = []
  /** Lines of stderr that were not JSON (the CLI's own messages, e.g. its final error). */
  readonly otherLines: string[] = []
  readonly warnings: string[] = []
  /** The Dockerfile checks, once each (BuildKit may repeat one per platform). */
  readonly checks: BuildCheck[] = []

  /**
   * @param onStep called once when a Dockerfile step completes (for a streamed one-line progress)
   */
  constructor(
    private readonly onStep?: (step: Step) => void,
    /** Secret values replaced by *** in everything read (BuildKit prints arg values in names). */
    private readonly secrets: Redactor = new Redactor()
  ) {}

  private redact(s: string): string {
    return this.secrets.redact(s)
  }

  push(line: string): void {
    const trimmed = this.redact(line.trim())
    if (trimmed === '') return
    let status: RawStatus
    try {
      if (!trimmed.startsWith('{')) throw new Error('not JSON')
      status = JSON.parse(trimmed) as RawStatus
    } catch {
      this.otherLines.push(trimmed)
      this.lines.push(trimmed)
      return
    }
    for (const v of status.vertexes ?? []) this.vertex(v)
    for (const l of status.logs ?? []) this.log(l)
    for (const w of status.warnings ?? []) this.warning(w)
  }

  private warning(w: RawWarning): void {
    const text = w.short ? this.redact(decode(w.short).trim()) : ''
    if (!text) return
    if (w.sourceInfo?.filename) {
      const check = buildCheck(text, w, s => this.redact(s))
      if (this.checks.some(c => sameCheck(c, check))) return
      this.checks.push(check)
    } else {
      if (this.warnings.includes(text)) return
      this.warnings.push(text)
    }
    this.lines.push(`WARNING: ${text}`)
  }

  private vertex(v: RawVertex): void {
    if (!v.digest) return
    let step = this.steps.get(v.digest)
    if (!step) {
      step = { digest: v.digest, number: this.steps.size + 1, name: v.name ?? '', cached: false }
      this.steps.set(v.digest, step)
      this.lines.push(`#${step.number} ${step.name}`)
    }
    const wasDone = Boolean(step.completed)
    if (v.name) step.name = v.name
    if (v.started) step.started = v.started
    if (v.cached) step.cached = true
    if (v.error) step.error = v.error
    if (v.completed && !wasDone) {
      step.completed = v.completed
      this.flush(v.digest)
      if (step.error) this.lines.push(`#${step.number} ${errorLine(step)}`)
      else if (step.cached) this.lines.push(`#${step.number} CACHED`)
      else this.lines.push(`#${step.number} DONE ${seconds(step.started, step.completed)}`)
      if (isDockerfileStep(step.name)) this.onStep?.(step)
    } else if (v.cached && !wasDone && !v.started) {
      // BuildKit may report a cached vertex without times.
      this.lines.push(`#${step.number} CACHED`)
    }
  }

  private log(l: RawLog): void {
    if (!l.vertex || !l.data) return
    const step = this.steps.get(l.vertex)
    // Whole lines are redacted: a secret may arrive split over two chunks.
    const text = (this.partial.get(l.vertex) ?? '') + Buffer.from(l.data, 'base64').toString('utf8')
    const parts = text.split(/\r?\n/)
    this.partial.set(l.vertex, parts.pop() ?? '')
    for (const p of parts) this.lines.push(`#${step?.number ?? '?'} ${this.redact(p)}`)
  }

  private flush(digest: string): void {
    const rest = this.partial.get(digest)
    if (rest) this.lines.push(`#${this.steps.get(digest)?.number ?? '?'} ${this.redact(rest)}`)
    this.partial.delete(digest)
  }

  /** Dockerfile steps seen, in order. */
  dockerfileSteps(): Step[] {
    return [...this.steps.values()].filter(s => isDockerfileStep(s.name))
  }

  /** Steps that failed (after a successful build: e.g. a cache export with ignore-error). */
  failedSteps(): Step[] {
    return [...this.steps.values()].filter(s => s.error)
  }

  counts(): { cachedSteps: number; totalSteps: number } {
    const steps = this.dockerfileSteps().filter(s => s.completed || s.cached)
    return { cachedSteps: steps.filter(s => s.cached).length, totalSteps: steps.length }
  }

  /** The readable log so far (numbered like BuildKit's plain progress). */
  text(): string {
    for (const d of [...this.partial.keys()]) this.flush(d)
    return this.lines.join('\n')
  }

  /**
   * The most meaningful error: the failing step's error (not cancellations), else the CLI's
   * last `error:` line, else its last line.
   */
  errorMessage(): string {
    // A missing cache to import is normal, cancellations follow the real failure.
    const failed = [...this.steps.values()].filter(
      s =>
        s.error &&
        !/context canceled|^canceled$/i.test(s.error) &&
        !/^importing cache/i.test(s.name)
    )
    const step = failed.find(s => isDockerfileStep(s.name)) ?? failed.at(-1)
    if (step?.error) return step.error.trim()
    const cli = this.otherLines.filter(l => /^(error|ERROR)\b/.test(l)).at(-1)
    if (cli) return cli.replace(/^(error|ERROR):?\s*/, '').trim()
    return this.otherLines.at(-1) ?? ''
  }
}

function decode(base64: string): string {
  return Buffer.from(base64, 'base64').toString('utf8')
}

/** `FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)` as its parts. */
function buildCheck(short: string, w: RawWarning, redact: (s: string) => string): BuildCheck {
  const named = /^([A-Z][A-Za-z0-9]*): ([\s\S]*)$/.exec(short)
  const line = w.range?.[0]?.start?.line
  return {
    rule: named?.[1] ?? '',
    message: (named?.[2] ?? short).replace(/\s*\(line \d+\)$/, ''),
    detail: redact((w.detail ?? []).map(decode).join(' ').trim()),
    url: /^https:\/\/[^\s]+$/.test(w.url ?? '') ? (w.url ?? '') : '',
    source: redact(w.sourceInfo?.filename ?? ''),
    ...(typeof line === 'number' && line > 0 ? { line } : {})
  }
}

/** The same check at the same place (another platform's, another build's of the Dockerfile). */
export function sameCheck(a: BuildCheck, b: BuildCheck): boolean {
  return (
    a.rule === b.rule &&
    a.message === b.message &&
    a.line === b.line &&
    (a.file ?? a.source) === (b.file ?? b.source)
  )
}

/**
 * A failed step's line. A cache to import that does not exist yet is what every first build
 * meets (it writes that cache at its end): said as such, not as an ERROR.
 */
function errorLine(step: Step): string {
  if (/^importing cache/i.test(step.name)) {
    if (/not found/i.test(step.error ?? '')) {
      return `no cache to import yet (expected on a first build, which writes it): ${step.error}`
    }
    return `cache not imported, the build goes on without it: ${step.error}`
  }
  return `ERROR: ${step.error}`
}

function seconds(started?: string, completed?: string): string {
  if (!started || !completed) return ''
  const ms = Date.parse(completed) - Date.parse(started)
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)}s` : ''
}
