// What the CLI says on real apps: one line per problem in its own words, a JSON error object with
// --json, no empty Release line in a dry run, counts in the singular, the platforms label once.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { runCli } from '../../src/cli/run.js'
import { renderSummary } from '../../src/core/summary.js'
import { Redactor } from '../../src/core/secrets.js'

const SHA = '0123456789abcdef0123456789abcdef01234567'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cli-messages-'))
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM busybox\nARG A\n')
  await writeFile(path.join(dir, 'convox.yml'), 'services:\n  web:\n    build: .\n')
})
afterAll(() => rm(dir, { recursive: true, force: true }))

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(argv, {
    stdout: t => (stdout += t),
    stderr: t => (stderr += t),
    env: { GITHUB_ACTIONS: 'true', GITHUB_SHA: SHA },
    cwd: dir,
    signals: false
  })
  return { code, stdout, stderr }
}

describe('CLI messages', () => {
  it('--build-args problems say the line once, by flag', async () => {
    const r = await cli(['plan', '--app', 'myapp', '--build-args', 'A=1', '--build-args', '1BAD'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      '--build-args (line 2): "1BAD" is not a valid build arg name (letters, digits and _, not starting with a digit); each line is NAME or NAME=VALUE'
    )
    expect(r.stderr).not.toMatch(/line 2\)?: line 2/)
    expect(r.stderr).not.toContain('input "build-args"')
  })

  it('--build-args warnings are in the CLI words too', async () => {
    const r = await cli(['plan', '--app', 'myapp', '--build-args', 'A=1', '--build-args', 'A=2'])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(
      'warning: --build-args (line 2): A is given again (first on line 1); the last one wins'
    )
  })

  it('--json prints a JSON error object on stdout when the run fails', async () => {
    const r = await cli(['build', '--json', '--app', 'myapp', '--build-args', '1BAD', '--dry-run'])
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout)).toEqual({
      error: {
        message:
          'input "build-args" line 1: "1BAD" is not a valid build arg name (letters, digits and _, not starting with a digit); each line is NAME or NAME=VALUE',
        problems: [
          {
            input: 'build-args',
            line: 1,
            message:
              '"1BAD" is not a valid build arg name (letters, digits and _, not starting with a digit); each line is NAME or NAME=VALUE'
          }
        ]
      }
    })
  })

  it('a dry run prints no empty Release line, and counts one service as one', async () => {
    const r = await cli(['build', '--app', 'myapp', '--dry-run'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Build: {3}B[A-Z]{10}\n$/)
    expect(r.stderr).toMatch(/myapp B[A-Z]{10}: 1 service, 1 build\n/)
  })

  it('--json and the summary label the platforms once', async () => {
    const r = await cli(['build', '--json', '--app', 'myapp', '--dry-run'])
    const result = JSON.parse(r.stdout)
    expect(result.platforms).toMatch(/^the builder's own/)
    const summary = renderSummary({ result, dryRun: true, secrets: new Redactor() })
    expect(summary).toContain("**Platforms:** the builder\\'s own")
    expect(summary).not.toMatch(/Platforms:\*\* platforms/)
  })
})
