// The CLI in other CIs: the plan's commit and description under each CI's variables in a
// directory that is not a git checkout, the outputs as a dotenv file, the summary as Markdown,
// and Buildkite's annotation and meta-data through a stub buildkite-agent.
import { chmod, cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { parse as parseDotenv } from 'dotenv'
import type { PipelineResult } from '../../src/core/pipeline/index.js'
import { DOTENV_LIMIT } from '../../src/cli/dotenv.js'
import { runCli } from '../../src/cli/run.js'
import { CI_CASES, HEAD } from '../helpers/ci-cases.js'

const SECRET = 'pa55-w0rd-never-shown'
let work: string
let app: string

async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  result?: PipelineResult
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  let ran = false
  const code = await runCli(argv, {
    stdout: t => (stdout += t),
    stderr: t => (stderr += t),
    // No git above the app: only the CI's variables can tell the commit.
    env: { PATH: process.env.PATH, GIT_CEILING_DIRECTORIES: tmpdir(), ...env },
    cwd: app,
    signals: false,
    ...(result
      ? {
          pipeline: async () => {
            ran = true
            return result
          }
        }
      : {})
  })
  if (result && code !== 0 && ran) stderr += '\n(pipeline ran)'
  return { code, stdout, stderr }
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cli-ci-'))
  app = path.join(work, 'app')
  await cp(path.resolve('examples'), app, { recursive: true })
})
afterAll(() => rm(work, { recursive: true, force: true }))

describe('convox-build plan under each CI, outside git', () => {
  it.each(CI_CASES)('%s', async (_name, env, expected) => {
    const r = await cli(['plan', '--app', 'myapp', '--build-args', 'BUILD_GIT_SHA'], env)
    expect(r.stderr).not.toContain('cannot tell which commit')
    expect(r.code).toBe(0)
    const plan = JSON.parse(r.stdout)
    expect(plan.gitSha).toBe(expected.commit)
    expect(plan.description).toBe(expected.description)
  })

  it('--git-sha wins over the CI', async () => {
    const r = await cli(['plan', '--app', 'myapp', '--git-sha', 'abcdef1234567'], CI_CASES[0]![1])
    expect(JSON.parse(r.stdout)).toMatchObject({
      gitSha: 'abcdef1234567',
      description: 'build abcdef1234'
    })
  })

  it('outside any CI and git: an empty BUILD_GIT_SHA and one warning', async () => {
    const r = await cli(['plan', '--app', 'myapp'], {})
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ gitSha: '', description: '' })
    expect(r.stderr.match(/cannot tell which commit is built/g)).toHaveLength(1)
    expect(r.stderr).toMatch(/^warning: .*BUILD_GIT_SHA is empty$/m)
  })

  it('outside any CI and git: an error when BUILD_GIT_SHA is asked for', async () => {
    const r = await cli(['plan', '--app', 'myapp', '--build-args', 'BUILD_GIT_SHA'], {})
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^--build-args \(line 1\): BUILD_GIT_SHA: cannot tell which commit/m)
  })
})

describe('--output-file', () => {
  it('writes the outputs as a dotenv file that dotenv reads back exactly', async () => {
    const file = path.join(work, 'build.env')
    // `#` ends an unquoted dotenv value, `$` would be expanded where the variable is used.
    const description = 'Fix #12: costs $5 and "quotes"'
    const r = await cli(
      ['plan', '--app', 'myapp', '--description', description, '--output-file', file],
      { GITLAB_CI: 'true', CI_COMMIT_SHA: HEAD }
    )
    expect(r.code).toBe(0)
    const text = await readFile(file, 'utf8')
    expect(text).toMatch(
      /^BUILD_ID=B[A-Z]{10}\nRELEASE_ID=\nIMAGES=\{.*\}\nDIGESTS=\{\}\nPLAN=\{.*\}\nEXPORT_PATH=\nREUSED=\{\}\nMATRIX=\{"include":\[.*\]\}\nREVIEW_APP=\nREVIEW_URLS=\{\}\n$/
    )
    expect(text).not.toMatch(/[#$]/)
    const values = parseDotenv(text)
    const plan = JSON.parse(r.stdout)
    expect(values.BUILD_ID).toBe(plan.buildId)
    expect(JSON.parse(values.PLAN ?? '')).toEqual(plan)
    expect(JSON.parse(values.IMAGES ?? '')).toEqual(
      Object.fromEntries(
        plan.services.map((s: { name: string; image: string }) => [s.name, s.image])
      )
    )
  })

  it('holds no secret', async () => {
    const file = path.join(work, 'secret.env')
    const summary = path.join(work, 'secret.md')
    const r = await cli(
      ['plan', '--app', 'myapp', '--description', `leak ${SECRET}`, '--output-file', file],
      {
        CONVOX_BUILD_REGISTRY_PASSWORD: SECRET,
        CONVOX_BUILD_REGISTRY_USERNAME: 'u',
        CONVOX_BUILD_REGISTRY: 'r.local/x',
        CONVOX_BUILD_PUSH: 'false'
      }
    )
    expect(r.code).toBe(0)
    const r2 = await cli(
      ['plan', '--app', 'myapp', '--description', `leak ${SECRET}`, '--summary-file', summary],
      // Not RACK_URL: with a rack, plan reads the app's env from it.
      { CONVOX_BUILD_DOCKER_HUB_PASSWORD: SECRET, CONVOX_BUILD_DOCKER_HUB_USERNAME: 'u' }
    )
    expect(r2.code).toBe(0)
    for (const f of [file, summary]) {
      const text = await readFile(f, 'utf8')
      // the summary escapes text for Markdown: `\*\*\*` shows as ***
      expect(text).toContain(f === summary ? 'leak \\*\\*\\*' : 'leak ***')
      expect(text).not.toContain(SECRET)
    }
  })

  it('leaves out the plan, with a warning, where GitLab would refuse the file', async () => {
    const file = path.join(work, 'big.env')
    const r = await cli(
      ['plan', '--app', 'myapp', '--description', 'x'.repeat(DOTENV_LIMIT), '--output-file', file],
      {}
    )
    expect(r.code).toBe(0)
    const values = parseDotenv(await readFile(file, 'utf8'))
    expect(values.PLAN).toBeUndefined()
    expect(values.BUILD_ID).toMatch(/^B[A-Z]{10}$/)
    expect(r.stderr).toMatch(/^warning: --output-file: plan: left out .*5120 bytes at most/m)
  })

  it('a path that cannot be written fails before anything runs, leaving nothing', async () => {
    const blocker = path.join(work, 'a-file')
    await writeFile(blocker, 'x')
    const file = path.join(blocker, 'build.env')
    const r = await cli(['build', '--app', 'myapp', '--output-file', file], {}, result())
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      `--output-file: cannot write ${file}: a parent of it is a file, not a directory`
    )
    expect(r.stderr).not.toContain('(pipeline ran)')
    expect(await readFile(blocker, 'utf8')).toBe('x')
  })

  it('makes the missing directories of the path, as for the export', async () => {
    const file = path.join(work, 'out', 'deeper', 'build.env')
    const r = await cli(['build', '--app', 'myapp', '--output-file', file], {}, result())
    expect(r.code).toBe(0)
    expect(parseDotenv(await readFile(file, 'utf8')).RELEASE_ID).toBe('RASDFGHJKLZ')
    expect((await readdir(path.dirname(file))).filter(f => f.includes('partial'))).toEqual([])
  })
})

function result(warnings: string[] = []): PipelineResult {
  return {
    plan: {
      app: 'myapp',
      buildId: 'BQWERTYUIOP',
      manifest: 'convox.yml',
      gitSha: HEAD,
      description: 'build 0123456789 x',
      development: false,
      services: [{ name: 'web', image: 'r.local/x:web.BQWERTYUIOP', build: 0 }],
      builds: []
    },
    buildId: 'BQWERTYUIOP',
    releaseId: 'RASDFGHJKLZ',
    images: { web: 'r.local/x:web.BQWERTYUIOP' },
    digests: {},
    services: [],
    exportPath: '',
    warnings,
    buildArgNames: [],
    stage: 'all',
    matrix: { include: [] },
    platforms: '',
    durationMs: 20
  }
}

describe('--summary-file', () => {
  it('writes the job summary as Markdown', async () => {
    const file = path.join(work, 'summary.md')
    const r = await cli(['build', '--app', 'myapp', '--summary-file', file], {}, result())
    expect(r.code).toBe(0)
    const text = await readFile(file, 'utf8')
    expect(text).toMatch(/^## convox-build: myapp\n/)
    expect(text).toContain('| `BQWERTYUIOP` | `RASDFGHJKLZ` |')
    expect(text).toContain('| web | `r.local/x:web.BQWERTYUIOP` |')
  })
})

describe('--code-quality-file', () => {
  it("writes each problem at its file and line as GitLab's code quality report", async () => {
    const root = path.join(work, 'cq')
    await cp(path.resolve('examples'), path.join(root, 'sub'), { recursive: true })
    await writeFile(
      path.join(root, 'sub', 'convox.yml'),
      'services:\n  web:\n    build: .\n    agent: {ports: [1]}\n'
    )
    const file = path.join(root, 'gl-code-quality-report.json')
    let stderr = ''
    const code = await runCli(
      ['plan', '--app', 'myapp', '--working-directory', 'sub', '--code-quality-file', file],
      {
        stdout: () => undefined,
        stderr: t => (stderr += t),
        env: { PATH: process.env.PATH, GIT_CEILING_DIRECTORIES: tmpdir(), CI_PROJECT_DIR: root },
        cwd: root,
        signals: false
      }
    )
    expect(code).toBe(1)
    expect(stderr).toMatch(/^convox\.yml:4:12: /m)
    const issues = JSON.parse(await readFile(file, 'utf8'))
    expect(issues).toEqual([
      {
        description: expect.stringContaining('agent ports are now specified at the service level'),
        check_name: 'convox-build',
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
        severity: 'major',
        location: { path: 'sub/convox.yml', lines: { begin: 4 } }
      }
    ])
  })

  it('is an empty report when nothing is wrong', async () => {
    const file = path.join(work, 'clean.json')
    const r = await cli(['plan', '--app', 'myapp', '--code-quality-file', file], {})
    expect(r.code).toBe(0)
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual([])
  })
})

describe('on Buildkite', () => {
  let bin: string
  let log: string
  beforeAll(async () => {
    bin = path.join(work, 'bin')
    log = path.join(work, 'agent.log')
    await cp(path.resolve('__tests__/fixtures/buildkite-agent'), path.join(bin, 'buildkite-agent'))
    await chmod(path.join(bin, 'buildkite-agent'), 0o755)
  })
  const env = (): NodeJS.ProcessEnv => ({
    BUILDKITE: 'true',
    BUILDKITE_COMMIT: HEAD,
    PATH: `${bin}:${process.env.PATH}`,
    BUILDKITE_AGENT_STUB_LOG: log
  })

  it('annotates the build with the summary and sets the ids as meta-data', async () => {
    await writeFile(log, '')
    const r = await cli(['build', '--app', 'myapp'], env(), result(['a warning']))
    expect(r.code).toBe(0)
    const calls = (await readFile(log, 'utf8')).trim().split('\n---\n')
    expect(calls[0]).toBe('meta-data set convox-build-id BQWERTYUIOP\nstdin:')
    expect(calls[1]).toBe('meta-data set convox-release-id RASDFGHJKLZ\nstdin:')
    expect(calls[2]).toMatch(
      /^annotate --style warning --context convox-build-myapp\nstdin:## convox-build: myapp\n/
    )
    expect(calls[2]).toContain('- a warning')
    expect(calls).toHaveLength(3)
  })

  it('with summary off: meta-data only', async () => {
    await writeFile(log, '')
    const r = await cli(['build', '--app', 'myapp', '--summary=false'], env(), result())
    expect(r.code).toBe(0)
    const calls = (await readFile(log, 'utf8')).trim().split('\n---\n')
    expect(calls.map(c => c.split('\n')[0])).toEqual([
      'meta-data set convox-build-id BQWERTYUIOP',
      'meta-data set convox-release-id RASDFGHJKLZ'
    ])
  })

  it('an agent that fails is a warning, not a failed build', async () => {
    const r = await cli(
      ['build', '--app', 'myapp'],
      { ...env(), BUILDKITE_AGENT_STUB_FAIL: 'true' },
      result()
    )
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/^warning: buildkite-agent annotate: stub told to fail$/m)
  })

  it('without buildkite-agent on PATH: nothing but the build', async () => {
    const r = await cli(
      ['build', '--app', 'myapp'],
      { BUILDKITE: 'true', PATH: process.env.PATH },
      result()
    )
    expect(r.code).toBe(0)
    expect(r.stderr).not.toContain('buildkite-agent')
  })
})
