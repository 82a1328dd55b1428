// What a run leaves for the CI beyond stdout: the outputs as a dotenv file (--output-file), the
// job summary as Markdown (--summary-file), and on Buildkite an annotation and meta-data.
import { accessSync, constants } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { codeQualityReport, type CodeQualityPaths, type Finding } from './code-quality.js'
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
  /** Write the summary where the CI shows one (Buildkite annotation). */
  summary: boolean
  /** Absolute paths; '' for none. */
  outputFile: string
  summaryFile: string
  env: NodeJS.ProcessEnv
  exec: Exec
  logger: Logger
  secrets: Redactor
}

/** Buildkite meta-data keys of the ids (`buildkite-agent meta-data get convox-release-id`). */
const BUILDKITE_META_DATA = {
  'build-id': 'convox-build-id',
  'release-id': 'convox-release-id'
}

export async function writeReports(o: ReportOptions): Promise<void> {
  const outputs = resultOutputs(o.result)
  // Rendered once, when the first of --summary-file and the annotation wants it.
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
  if (o.env.BUILDKITE === 'true') {
    const agent = onPath('buildkite-agent', o.env.PATH ?? '')
    if (!agent) {
      o.logger.debug('buildkite-agent is not on PATH: no annotation, no meta-data')
      return
    }
    const run = async (what: string, args: string[], input?: string): Promise<void> => {
      try {
        const r = await o.exec(agent, args, { env: o.env, input })
        if (r.exitCode !== 0) throw new Error(r.stderr.trim() || `exit code ${r.exitCode}`)
      } catch (e) {
        // The build is done: a report that cannot be written is a warning.
        o.logger.warning(`buildkite-agent ${what}: ${o.secrets.redact((e as Error).message)}`)
      }
    }
    for (const [output, key] of Object.entries(BUILDKITE_META_DATA)) {
      const value = outputs[output as keyof typeof BUILDKITE_META_DATA]
      if (value) await run('meta-data set', ['meta-data', 'set', key, o.secrets.redact(value)])
    }
    if (o.summary) {
      const style = o.result.warnings.length > 0 ? 'warning' : o.dryRun ? 'info' : 'success'
      const context = `convox-build-${o.result.plan.app}`
      await run('annotate', ['annotate', '--style', style, '--context', context], summary())
    }
  }
}

/** The executable `name` on PATH, '' when none. */
function onPath(name: string, PATH: string): string {
  for (const dir of PATH.split(path.delimiter)) {
    if (!dir) continue
    const file = path.join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return ''
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
