// BuildKit's Dockerfile checks through the action's real entry (a bundle of the current sources
// under node, as the runner runs it) and the CLI, building on the rig's buildkitd: warnings as
// annotations at the Dockerfile's line and a summary section, `error` failing the build one line
// per check, `off` silencing them, and GitLab's code quality entries.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { runCli } from '../../src/cli/run.js'
import { bundleToTemp, runAction, shownLines, type RunnerRun } from '../helpers/action-runner.js'
import { loadRig, rigEnv } from '../helpers/rig.js'

const rig = loadRig()
let work: string
let dist: string
let workspace: string

// Three checks of BuildKit's Dockerfile linter, each on its own line. Both services share the
// build: its checks are said once.
const DOCKERFILE = 'FROM scratch as base\nENV API_KEY=x\nCMD echo hi\n'
const CHECKS = [
  { line: 1, rule: 'FromAsCasing', text: "'as' and 'FROM' keywords' casing do not match" },
  {
    line: 2,
    rule: 'SecretsUsedInArgOrEnv',
    text: 'Do not use ARG or ENV instructions for sensitive data (ENV "API_KEY")'
  },
  {
    line: 3,
    rule: 'JSONArgsRecommended',
    text: 'JSON arguments recommended for CMD to prevent unintended behavior related to OS signals'
  }
]

beforeAll(async () => {
  ;({ work, dist } = bundleToTemp('build-checks-'))
  workspace = path.join(work, 'workspace')
  await mkdir(path.join(workspace, 'app', 'svc'), { recursive: true })
  await writeFile(
    path.join(workspace, 'app', 'convox.yml'),
    'services:\n  web:\n    build: svc\n  worker:\n    build: svc\n'
  )
  await writeFile(path.join(workspace, 'app', 'svc', 'Dockerfile'), DOCKERFILE)
  // The same with the Dockerfile's own directive making its checks errors.
  await mkdir(path.join(workspace, 'strict'), { recursive: true })
  await writeFile(path.join(workspace, 'strict', 'convox.yml'), 'services:\n  web:\n    build: .\n')
  await writeFile(path.join(workspace, 'strict', 'Dockerfile'), `# check=error=true\n${DOCKERFILE}`)
}, 300_000)
afterAll(() => rm(work, { recursive: true, force: true }))

const action = (inputs: Record<string, string>): Promise<RunnerRun> =>
  runAction(
    'index.js',
    {
      app: 'checks',
      'working-directory': 'app',
      'buildkit-host': rig.buildkitHost,
      builder: rig.buildxBuilder,
      cache: 'none',
      ...inputs
    },
    {
      dist,
      work,
      cwd: workspace,
      env: { PATH: rigEnv(rig).PATH, BUILDX_CONFIG: rig.buildxConfig },
      event: { head_commit: { message: 'checks' } },
      timeoutMs: 240_000
    }
  )

/** The workflow commands of one kind that point at a file. */
const annotations = (r: RunnerRun, kind: 'warning' | 'error'): string[] =>
  shownLines(r.stdout).filter(l => new RegExp(`^::${kind} [^:]*file=`).test(l))

/** The annotation each check should be, in a Dockerfile whose checks start `below` line 1. */
const expected = (kind: 'warning' | 'error', file: string, below = 0): string[] =>
  CHECKS.map(
    c =>
      `::${kind} title=${c.rule},file=${file},line=${c.line + below}::${c.rule}: ${c.text} (https://docs.docker.com/go/dockerfile/rule/${kebab(c.rule)}/)`
  )

describe.each(['buildctl', 'buildx'])('build checks on %s', engine => {
  it('warn: one annotation per check at app/svc/Dockerfile:line, and a summary section', async () => {
    const r = await action({ engine, 'build-checks': 'warn' })
    expect({ status: r.status, tail: r.stdout.slice(-1500) }).toEqual({
      status: 0,
      tail: expect.any(String)
    })
    expect(annotations(r, 'warning')).toEqual(expected('warning', 'app/svc/Dockerfile'))
    expect(r.summary).toContain('### Build checks (3)')
    for (const c of CHECKS) {
      expect(r.summary).toContain(`- \`svc/Dockerfile:${c.line}\` **${c.rule}**: `)
    }
    // Said once: not again among the summary's warnings.
    expect(r.summary).not.toContain('### Warnings')
  })
})

describe('build-checks error and off (buildctl)', () => {
  it('error: the build fails before it runs, one error per check at its line', async () => {
    const r = await action({ engine: 'buildctl', 'build-checks': 'error' })
    expect(r.status).toBe(2)
    expect(annotations(r, 'error')).toEqual(expected('error', 'app/svc/Dockerfile'))
    expect(r.stdout).toContain('::error::convox-build stopped: 3 problems, see the errors above')
    expect(annotations(r, 'warning')).toEqual([])
    expect(r.outputs['build-id']).toBeUndefined()
  })

  it('off: no check is run, none said', async () => {
    const r = await action({ engine: 'buildctl', 'build-checks': 'off' })
    expect(r.status).toBe(0)
    expect(annotations(r, 'warning')).toEqual([])
    expect(r.stdout).not.toContain('FromAsCasing')
    expect(r.summary).not.toContain('Build checks')
  })
})

describe("the Dockerfile's own # check=error=true", () => {
  it('is honoured with warn, its failure one error per check at its line', async () => {
    const r = await action({ engine: 'buildctl', 'working-directory': 'strict' })
    expect(r.status).toBe(2)
    expect(annotations(r, 'error')).toEqual(expected('error', 'strict/Dockerfile', 1))
  })
})

describe('the CLI', () => {
  it('--code-quality-file: an entry per check at its path and line, by its rule', async () => {
    const file = path.join(work, 'gl-code-quality-report.json')
    let stderr = ''
    const code = await runCli(
      [
        'build',
        '--app',
        'checks',
        '--working-directory',
        'app',
        '--engine',
        'buildctl',
        '--buildkit-host',
        rig.buildkitHost,
        '--code-quality-file',
        file
      ],
      {
        stdout: () => undefined,
        stderr: t => (stderr += t),
        env: { ...rigEnv(rig), CI_PROJECT_DIR: workspace },
        cwd: workspace,
        signals: false
      }
    )
    expect({ code, stderr: stderr.slice(-1500) }).toEqual({ code: 0, stderr: expect.any(String) })
    for (const c of CHECKS) {
      expect(stderr).toContain(`warning: svc/Dockerfile:${c.line}: ${c.rule}: ${c.text}`)
    }
    const issues = JSON.parse(await readFile(file, 'utf8')) as Array<Record<string, unknown>>
    expect(issues.map(i => [i.check_name, i.severity, i.location])).toEqual(
      CHECKS.map(c => [c.rule, 'minor', { path: 'app/svc/Dockerfile', lines: { begin: c.line } }])
    )
  })
})

/** `FromAsCasing` as Docker's rule page names it: `from-as-casing`. */
function kebab(rule: string): string {
  return rule
    .replace(/^JSON/, 'Json')
    .replace(/([a-z])([A-Z])/g, '$1-$2')
    .toLowerCase()
}
