// The job summary as Markdown: GitHub's step summary, a Buildkite annotation, --summary-file.
import type { BuildCheck } from './engine/index.js'
import type { PipelineResult } from './pipeline/index.js'
import type { PlannedService } from './plan.js'
import type { ServiceReport } from './run-environment.js'
import type { Redactor } from './secrets.js'

/** An uploaded export (GitHub's artifact), linked from the summary. */
export interface SummaryArtifact {
  id: number | string
  url: string
}

/** GitHub's runner refuses a step summary over 1 MiB (Buildkite annotations too); stay below. */
export const SUMMARY_LIMIT = 1024 * 1024
const BUDGET = SUMMARY_LIMIT - 64 * 1024

interface SummaryInput {
  result: PipelineResult
  dryRun: boolean
  artifact?: SummaryArtifact
  /** The run's secrets: replaced by `***`. */
  secrets: Redactor
}

/** The job summary as Markdown: ids, one table row per service, build-arg names, warnings. */
export function renderSummary(input: SummaryInput): string {
  const { result, dryRun, artifact } = input
  // Secrets go before the escaping, which would hide them from the redactor.
  const text = (s: string): string => markdownText(input.secrets.redact(s))
  const code = (s: string, inTable = false): string => codeSpan(input.secrets.redact(s), inTable)
  const stage = result.stage === 'all' ? '' : ` (${result.stage} stage)`
  const head: string[] = [
    `## convox-build: ${text(result.plan.app)}${dryRun ? ' (dry run)' : ''}${stage}`,
    '',
    `| Build | Release | Services | Builds | Duration |`,
    `|---|---|---|---|---|`,
    `| ${code(result.buildId, true)} | ${result.releaseId ? code(result.releaseId, true) : '-'} | ${result.plan.services.length} | ${result.plan.builds.length} | ${seconds(result.durationMs)} |`,
    ''
  ]
  if (result.plan.description) head.push(`> ${text(result.plan.description)}`, '')
  if (result.platforms) head.push(`**Platforms:** ${text(result.platforms)}`, '')
  if (result.scope) head.push(`**Trust:** ${text(result.scope)}`, '')
  const review = result.review
  if (review && review.state !== 'skipped') {
    const what =
      review.state === 'deleted' ? 'deleted (the pull request closed)' : 'built and promoted'
    head.push(`**Review app:** ${code(review.app)} ${what}`, '')
  }
  if (result.stage === 'start') {
    const legs = result.matrix.include.map(l => code(l.services)).join(', ')
    head.push(`**Build legs** (${result.matrix.include.length}): ${legs || '-'}`, '')
  }

  const tableHead = [
    '| Service | Image | Digest | Build | Cached steps | Built or reused | Duration |',
    '|---|---|---|---|---|---|---|'
  ]
  const reports = new Map(result.services.map(r => [r.name, r]))
  const rows = result.plan.services.map(s => serviceRow(s, result, reports.get(s.name), text, code))

  const tail: string[] = []
  if (result.buildArgNames.length > 0) {
    const fromEnv = result.appEnvArgNames ?? []
    tail.push(
      '',
      '**Build args** (values not shown): ' +
        result.buildArgNames.map(n => code(`${n}=***`)).join(' ') +
        (fromEnv.length > 0 ? ` (from the app's env: ${fromEnv.map(n => code(n)).join(' ')})` : '')
    )
  }
  if (result.exportPath) tail.push('', `**Export:** ${code(result.exportPath)}`)
  if (artifact)
    tail.push('', `**Artifact:** [${text(String(artifact.id))}](<${encodeURI(artifact.url)}>)`)
  const warnings = result.warnings.map(w => `- ${text(w)}`)
  const checks = (result.checks ?? []).map(c => checkLine(c, text, code))

  // Fit the limit: drop warnings and checks first, then service rows, saying how many were left out.
  const fixed = Buffer.byteLength([...head, ...tableHead, ...tail].join('\n')) + 200
  let budget = BUDGET - fixed
  const keptRows = take(rows, budget)
  budget -= keptRows.reduce((n, r) => n + Buffer.byteLength(r) + 1, 0)
  const keptChecks = take(checks, budget - 40)
  budget -= keptChecks.reduce((n, r) => n + Buffer.byteLength(r) + 1, 0)
  const keptWarnings = take(warnings, budget - 40)

  const out = [...head, ...tableHead, ...keptRows]
  if (keptRows.length < rows.length) {
    out.push('', `_${rows.length - keptRows.length} more services not shown (summary size limit)._`)
  }
  out.push(...tail)
  if (checks.length > 0) {
    out.push('', `### Build checks (${checks.length})`, '', ...keptChecks)
    if (keptChecks.length < checks.length) {
      out.push(`- _${checks.length - keptChecks.length} more not shown._`)
    }
  }
  if (warnings.length > 0) {
    out.push('', `### Warnings (${warnings.length})`, '', ...keptWarnings)
    if (keptWarnings.length < warnings.length) {
      out.push(`- _${warnings.length - keptWarnings.length} more not shown._`)
    }
  }
  return input.secrets.redact(out.join('\n') + '\n')
}

/** `- `Dockerfile:3` **JSONArgsRecommended**: message ([rule](url))`: BuildKit's check. */
function checkLine(
  c: BuildCheck,
  text: (s: string) => string,
  code: (s: string) => string
): string {
  const where = c.file ? code(c.line ? `${c.file}:${c.line}` : c.file) : code(c.source || '?')
  const rule = c.rule ? `**${text(c.rule)}**: ` : ''
  const link = c.url ? ` ([docs](<${encodeURI(c.url)}>))` : ''
  return `- ${where} ${rule}${text(c.message)}${link}`
}

/** A planned service, with what its build reported when it ran (nothing in a dry run). */
function serviceRow(
  planned: PlannedService,
  result: PipelineResult,
  report: ServiceReport | undefined,
  text: (s: string) => string,
  code: (s: string, inTable: boolean) => string
): string {
  let build: string
  if (planned.build === null) {
    build = planned.from ? `image ${code(planned.from, true)}` : 'image'
  } else {
    // A report lists the others; the plan lists the build's services, this one among them.
    const others = report?.sharedWith ?? result.plan.builds[planned.build]?.services ?? []
    const count = report?.sharedWith ? others.length : Math.max(0, others.length - 1)
    build = `#${planned.build + 1}`
    if (count > 0) build += ` (shared with ${namedOthers(others, planned.name, count, text)})`
  }
  const cached =
    !report || report.build === null || report.totalSteps === 0
      ? '-'
      : `${report.cachedSteps}/${report.totalSteps}`
  const how = !report
    ? '-'
    : report.reusedFrom
      ? `reused from ${code(report.reusedFrom, true)}`
      : report.build === null
        ? 'copied'
        : 'built'
  return `| ${text(planned.name)} | ${code(report?.image || planned.image, true)} | ${shortDigest(report?.digest ?? '')} | ${build} | ${cached} | ${how} | ${seconds(report?.durationMs ?? 0)} |`
}

/** Services a build is shared with, named in a row. */
const SHARED_NAMED = 5

/**
 * The first SHARED_NAMED of `names` other than `self`, then how many more of the `count` others:
 * a build shared by every service would otherwise list them all in every row (quadratic).
 */
function namedOthers(
  names: string[],
  self: string,
  count: number,
  text: (s: string) => string
): string {
  const shown: string[] = []
  for (const n of names) {
    if (shown.length === SHARED_NAMED) break
    if (n !== self) shown.push(text(n))
  }
  const more = count - shown.length
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ')
}

/** `sha256:` and the first 12 hex digits, as registries' UIs show them. */
export function shortDigest(digest: string): string {
  if (!digest) return '-'
  const [algo, hex] = digest.split(':')
  return codeSpan(hex ? `${algo}:${hex.slice(0, 12)}` : digest, true)
}

function seconds(ms: number): string {
  return ms > 0 ? `${(ms / 1000).toFixed(1)}s` : '-'
}

/** Line breaks (CR alone too) and other control characters: a space each run. */
// eslint-disable-next-line no-control-regex -- control characters are what it matches
const CONTROLS = /[\u0000-\u001f\u007f\u0085\u2028\u2029]+/g

/**
 * Text from outside (a subject, a name, a path, a warning) as Markdown text that reads as
 * written: every ASCII punctuation character backslash-escaped (CommonMark allows it of each),
 * so no heading, list, link, image, emphasis, raw HTML, entity or table cell can start in it.
 */
export function markdownText(s: string): string {
  return s
    .replace(CONTROLS, ' ')
    .trimStart()
    .replace(/[!-/:-@[-`{-~]/g, '\\$&')
}

/**
 * Text in a code span: shown literally (no HTML, no entities), once nothing in it can end the
 * span; in a table row `|` is escaped (GFM reads it before the span).
 */
export function codeSpan(s: string, inTable: boolean): string {
  const literal = s.replace(CONTROLS, ' ').replace(/`/g, "'")
  return `\`${inTable ? literal.replace(/\|/g, '\\|') : literal}\``
}

function take(lines: string[], budget: number): string[] {
  const kept: string[] = []
  let used = 0
  for (const l of lines) {
    used += Buffer.byteLength(l) + 1
    if (used > budget) break
    kept.push(l)
  }
  return kept
}
