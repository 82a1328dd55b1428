// What a run leaves for the CI beyond stdout: the outputs as a dotenv file (--output-file), the
// job summary as Markdown (--summary-file), and what the CI's adapter publishes where the CI
// shows it (src/ci/<ci>.ts publish: Buildkite's annotation and meta-data, GitLab's
// review app note).
import { writeFile } from 'node:fs/promises'
import { adapterNamed } from '../ci/index.js'
import { codeQualityReport, type CodeQualityPaths, type Finding } from './code-quality.js'
import type { CiContext } from '../core/commit.js'
import type { Exec } from '../core/exec.js'
import type { Logger } from '../core/log.js'
import { resultOutputs } from '../core/result-outputs.js'
import { formatDotenv } from './dotenv.js'
import type { PipelineResult } from '../core/pipeline/index.js'
import type { Redactor } from '../core/secrets.js'
import { renderSummary } from '../core/summary.js'
import { writeAtomically } from '../core/target-file.js'

interface ReportOptions {
  result: PipelineResult
  dryRun: boolean
  /** Publish the summary where the CI shows one (Buildkite annotation). */
  summary: boolean
  /** The run's CI: its adapter publishes there. */
  ci: Promise<CiContext> | CiContext
  /** Absolute paths; '' for none. */
  outputFile: string
  summaryFile: string
  /** gitlab-token, for the review app's merge request note. */
  gitlabToken: string
  env: NodeJS.ProcessEnv
  exec: Exec
  logger: Logger
  secrets: Redactor
}

export async function writeReports(o: ReportOptions): Promise<void> {
  const outputs = resultOutputs(o.result)
  // Rendered once, when the first of --summary-file and the CI wants it.
  let rendered: string | undefined
  const summary = (): string =>
    (rendered ??= renderSummary({ result: o.result, dryRun: o.dryRun, secrets: o.secrets }))
  if (o.outputFile) {
    const dotenv = formatDotenv(outputs, o.secrets)
    for (const w of dotenv.omitted) o.logger.warning(`--output-file: ${w}`)
    await writeAtomically(o.outputFile, 'output-file', temp => writeFile(temp, dotenv.text))
  }
  if (o.summaryFile) {
    const text = summary()
    await writeAtomically(o.summaryFile, 'summary-file', temp => writeFile(temp, text))
  }
  const publish = adapterNamed((await o.ci).service)?.publish
  if (!publish) return
  await publish({
    app: o.result.plan.app,
    result: o.result,
    gitlabToken: o.gitlabToken,
    outputs: { ...outputs },
    summary: o.summary ? summary : undefined,
    outcome: o.result.warnings.length > 0 ? 'warning' : o.dryRun ? 'info' : 'success',
    env: o.env,
    exec: o.exec,
    logger: o.logger,
    secrets: o.secrets
  })
}

/** --code-quality-file: written whether the run succeeded or not. */
export async function writeCodeQuality(
  file: string,
  findings: Finding[],
  paths: CodeQualityPaths,
  secrets: Redactor
): Promise<void> {
  const text = codeQualityReport(findings, paths, secrets)
  await writeAtomically(file, 'code-quality-file', temp => writeFile(temp, text))
}
