// The trust fixtures (__tests__/fixtures/trust): each a CI's variables and, on GitHub, its event
// payload, with `$BASE` and `$HEAD` standing for the commits of the test's own repository.
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { REPO_ROOT } from './rig.js'

export interface TrustCase {
  env: Record<string, string>
  event?: Record<string, unknown>
}

export const TRUST_CASES = [
  'push-main',
  'push-tag',
  'push-branch',
  'pull_request-same-repo',
  'pull_request-fork',
  'pull_request_target-fork',
  'workflow_run-fork-pr',
  'workflow_run-same-repo-pr',
  'gitlab-fork-mr'
] as const
export type TrustCaseName = (typeof TRUST_CASES)[number]

/** A fixture with the repository's base and head commits in place of `$BASE` and `$HEAD`. */
export function trustCase(name: TrustCaseName, commits: { base: string; head: string }): TrustCase {
  const text = readFileSync(
    path.join(REPO_ROOT, '__tests__/fixtures/trust', `${name}.json`),
    'utf8'
  )
  return JSON.parse(
    text.replaceAll('$BASE', commits.base).replaceAll('$HEAD', commits.head)
  ) as TrustCase
}

/** The case's variables, its payload written to `dir` as GITHUB_EVENT_PATH. */
export async function trustEnv(
  c: TrustCase,
  dir: string,
  name: string
): Promise<Record<string, string>> {
  if (!c.event) return c.env
  const file = path.join(dir, `${name}.event.json`)
  await writeFile(file, JSON.stringify(c.event))
  return { ...c.env, GITHUB_EVENT_PATH: file }
}
