// GitLab's code quality report (Code Climate issues, `artifacts:reports:codequality`): each
// problem and warning that has a file position, so merge requests show them on their lines.
import { createHash } from 'node:crypto'
import path from 'node:path'
import type { Problem } from '../core/errors.js'
import type { Redactor } from '../core/secrets.js'

export interface Finding extends Problem {
  /** `major` for problems that stopped the run, `minor` for warnings. */
  severity: 'major' | 'minor'
}

export interface CodeQualityPaths {
  /** Where Problem.file starts (the working directory). */
  workingDirectory: string
  /** The repository root report paths are relative to (GitLab's CI_PROJECT_DIR). */
  projectDir: string
}

/** The report as JSON: an array, empty when nothing has a file position. */
export function codeQualityReport(
  findings: Finding[],
  paths: CodeQualityPaths,
  secrets: Redactor
): string {
  const issues = findings
    .filter(f => f.file)
    .map(f => {
      const file = path
        .relative(paths.projectDir, path.resolve(paths.workingDirectory, f.file ?? ''))
        .split(path.sep)
        .join('/')
      const description = secrets.redact(f.message)
      const line = f.line ?? 1
      return {
        description,
        check_name: f.title ?? 'convox-build',
        fingerprint: createHash('sha256')
          .update(`${file}:${line}:${f.col ?? ''}:${description}`)
          .digest('hex'),
        severity: f.severity,
        location: { path: file, lines: { begin: line } }
      }
    })
  return `${JSON.stringify(issues, null, 2)}\n`
}
