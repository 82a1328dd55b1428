// The job summary as Markdown: GitHub's step summary, a Buildkite annotation, --summary-file.
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
  const stage = result.stage === 'all' ? '' : ` (${result.stage} stage)`
  const head: string[] = [
    `## convox-build: ${cell(result.plan.app)}${dryRun ? ' (dry run)' : ''}${stage}`,
    '',
    `| Build | Release | Services | Builds | Duration |`,
    `|---|---|---|---|---|`,
    `| \`${cell(result.buildId)}\` | ${result.releaseId ? `\`${cell(result.releaseId)}\`` : '-'} | ${result.plan.services.length} | ${result.plan.builds.length} | ${seconds(result.durationMs)} |`,
    ''
  ]
  if (result.plan.description) head.push(`> ${cell(result.plan.description)}`, '')
  if (result.platforms) head.push(`**Platforms:** ${cell(result.platforms)}`, '')
  if (result.scope) head.push(`**Trust:** ${cell(result.scope)}`, '')
  if (result.stage === 'start') {
    const legs = result.matrix.include.map(l => `\`${cell(l.services)}\``).join(', ')
    head.push(`**Build legs** (${result.matrix.include.length}): ${legs || '-'}`, '')
  }

  const tableHead = [
    '| Service | Image | Digest | Build | Cached steps | Built or reused | Duration |',
    '|---|---|---|---|---|---|---|'
  ]
  const reports = new Map(result.services.map(r => [r.name, r]))
  const rows = result.plan.services.map(s => serviceRow(s, result, reports.get(s.name)))

  const tail: string[] = []
  if (result.buildArgNames.length > 0) {
    const fromEnv = result.appEnvArgNames ?? []
    tail.push(
      '',
      '**Build args** (values not shown): ' +
        result.buildArgNames.map(n => `\`${cell(n)}=***\``).join(' ') +
        (fromEnv.length > 0
          ? ` (from the app's env: ${fromEnv.map(n => `\`${cell(n)}\``).join(' ')})`
          : '')
    )
  }
  if (result.exportPath) tail.push('', `**Export:** \`${cell(result.exportPath)}\``)
  if (artifact) tail.push('', `**Artifact:** [${artifact.id}](${artifact.url})`)
  const warnings = result.warnings.map(w => `- ${cell(w)}`)

  // Fit the limit: drop warnings first, then service rows, saying how many were left out.
  const fixed = Buffer.byteLength([...head, ...tableHead, ...tail].join('\n')) + 200
  let budget = BUDGET - fixed
  const keptRows = take(rows, budget)
  budget -= keptRows.reduce((n, r) => n + Buffer.byteLength(r) + 1, 0)
  const keptWarnings = take(warnings, budget - 20)

  const out = [...head, ...tableHead, ...keptRows]
  if (keptRows.length < rows.length) {
    out.push('', `_${rows.length - keptRows.length} more services not shown (summary size limit)._`)
  }
  out.push(...tail)
  if (warnings.length > 0) {
    out.push('', `### Warnings (${warnings.length})`, '', ...keptWarnings)
    if (keptWarnings.length < warnings.length) {
      out.push(`- _${warnings.length - keptWarnings.length} more not shown._`)
    }
  }
  return input.secrets.redact(out.join('\n') + '\n')
}

/** A planned service, with what its build reported when it ran (nothing in a dry run). */
function serviceRow(
  planned: PlannedService,
  result: PipelineResult,
  report: ServiceReport | undefined
): string {
  let build: string
  if (planned.build === null) {
    build = planned.from ? `image \`${cell(planned.from)}\`` : 'image'
  } else {
    // A report lists the others; the plan lists the build's services, this one among them.
    const others = report?.sharedWith ?? result.plan.builds[planned.build]?.services ?? []
    const count = report?.sharedWith ? others.length : Math.max(0, others.length - 1)
    build = `#${planned.build + 1}`
    if (count > 0) build += ` (shared with ${namedOthers(others, planned.name, count)})`
  }
  const cached =
    !report || report.build === null || report.totalSteps === 0
      ? '-'
      : `${report.cachedSteps}/${report.totalSteps}`
  const how = !report
    ? '-'
    : report.reusedFrom
      ? `reused from \`${cell(report.reusedFrom)}\``
      : report.build === null
        ? 'copied'
        : 'built'
  return `| ${cell(planned.name)} | \`${cell(report?.image || planned.image)}\` | ${shortDigest(report?.digest ?? '')} | ${build} | ${cached} | ${how} | ${seconds(report?.durationMs ?? 0)} |`
}

/** Services a build is shared with, named in a row. */
const SHARED_NAMED = 5

/**
 * The first SHARED_NAMED of `names` other than `self`, then how many more of the `count` others:
 * a build shared by every service would otherwise list them all in every row (quadratic).
 */
function namedOthers(names: string[], self: string, count: number): string {
  const shown: string[] = []
  for (const n of names) {
    if (shown.length === SHARED_NAMED) break
    if (n !== self) shown.push(cell(n))
  }
  const more = count - shown.length
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ')
}

/** `sha256:` and the first 12 hex digits, as registries' UIs show them. */
export function shortDigest(digest: string): string {
  if (!digest) return '-'
  const [algo, hex] = digest.split(':')
  return hex ? `\`${algo}:${hex.slice(0, 12)}\`` : `\`${cell(digest)}\``
}

function seconds(ms: number): string {
  return ms > 0 ? `${(ms / 1000).toFixed(1)}s` : '-'
}

/** Text safe inside a Markdown table cell. */
function cell(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/`/g, "'")
    .replace(/\r?\n/g, ' ')
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
