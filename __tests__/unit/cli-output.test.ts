import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { PipelineResult } from '../../src/core/pipeline/index.js'
import { SETTING_FLAGS } from '../../src/cli/args.js'
import { createCliLogger, formatCliProblem } from '../../src/cli/logger.js'
import { runCli } from '../../src/cli/run.js'
import { buildkiteHeaders, gitlabSections, runnerCommands } from '../helpers/workflow-commands.js'

const SHA = '0123456789abcdef0123456789abcdef01234567'
const SECRET = 'pa55-w0rd-never-shown'
const examples = path.resolve('examples')

async function cli(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; result?: PipelineResult } = {}
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const { result } = options
  const code = await runCli(argv, {
    stdout: t => (stdout += t),
    stderr: t => (stderr += t),
    env: { GITHUB_ACTIONS: 'true', GITHUB_SHA: SHA, ...options.env },
    cwd: options.cwd ?? examples,
    // For the build output format: a prepared result where a build would need the rig.
    ...(result ? { pipeline: async () => result } : {})
  })
  return { code, stdout, stderr }
}

let badDir: string
beforeAll(async () => {
  badDir = await mkdtemp(path.join(tmpdir(), 'cli-bad-'))
  await writeFile(path.join(badDir, 'Dockerfile'), 'FROM busybox\n')
  await writeFile(
    path.join(badDir, 'convox.yml'),
    'services:\n  web:\n    build: .\n    agent: {ports: [1]}\n'
  )
})
afterAll(() => rm(badDir, { recursive: true, force: true }))

describe('convox-build plan', () => {
  it('prints the plan JSON alone on stdout, progress on stderr', async () => {
    const r = await cli(['plan', '--app', 'myapp', '--build-args', 'BUILD_GIT_SHA'])
    expect(r.code).toBe(0)
    const plan = JSON.parse(r.stdout)
    expect(plan.app).toBe('myapp')
    expect(plan.gitSha).toBe(SHA)
    expect(plan.buildId).toMatch(/^B[A-Z]{10}$/)
    expect(plan.services.map((s: { name: string }) => s.name)).toEqual([
      'web',
      'worker',
      'api',
      'cache'
    ])
    expect(r.stderr).toContain('==> ')
  })

  it('takes settings from CONVOX_BUILD_* variables', async () => {
    const r = await cli(['plan'], {
      env: { CONVOX_BUILD_APP: 'from-env', CONVOX_BUILD_REGISTRY: 'r.local/x' }
    })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).services[0].image).toMatch(/^r\.local\/x:web\.B[A-Z]{10}$/)
    expect(JSON.parse(r.stdout).app).toBe('from-env')
  })

  it('prints problems as file:line:col: message, exits 1, no stack, no secret', async () => {
    const r = await cli(
      ['plan', '--app', 'bad', '--registry-username', 'u', '--registry-password', SECRET],
      { cwd: badDir }
    )
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(
      /^convox\.yml:4:12: .*agent ports are now specified at the service level/m
    )
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(r.stderr + r.stdout).not.toContain(SECRET)
    // and says where a password belongs instead of argv
    expect(r.stderr).toContain(
      'warning: --registry-password on the command line is seen by other users of the machine while the CLI starts: give it as CONVOX_BUILD_REGISTRY_PASSWORD'
    )
  })

  it('names the flag of a bad input', async () => {
    const r = await cli(['plan', '--cache', 'sometimes', '--concurrency=0'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('--cache: must be one of auto, registry, gha, local, inline, none')
    expect(r.stderr).toContain('--concurrency: must be a whole number >= 1, got "0"')
  })
})

describe('convox-build build output', () => {
  const result: PipelineResult = {
    plan: {
      app: 'myapp',
      buildId: 'BQWERTYUIOP',
      manifest: 'convox.yml',
      gitSha: SHA,
      description: 'build 0123456789 x',
      development: false,
      services: [],
      builds: []
    },
    buildId: 'BQWERTYUIOP',
    releaseId: 'RASDFGHJKLZ',
    images: { web: 'r.local/x:web.BQWERTYUIOP' },
    digests: { web: 'sha256:' + 'f'.repeat(64) },
    services: [
      {
        name: 'web',
        image: 'r.local/x:web.BQWERTYUIOP',
        digest: 'sha256:' + 'f'.repeat(64),
        build: 0,
        sharedWith: [],
        cachedSteps: 1,
        totalSteps: 2,
        durationMs: 10
      }
    ],
    exportPath: '',
    warnings: [],
    buildArgNames: [],
    stage: 'all',
    matrix: { include: [] },
    platforms: '',
    durationMs: 20
  }

  it('ends with the Build and Release lines of convox build', async () => {
    const r = await cli(['build', '--app', 'myapp'], { result })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('Build:   BQWERTYUIOP\nRelease: RASDFGHJKLZ\n')
    expect(r.stderr).toContain(`web  r.local/x:web.BQWERTYUIOP  sha256:${'f'.repeat(64)}`)
  })

  it('says on a service line which image a reused service came from', async () => {
    const from = `r.local/x:web.${'0'.repeat(32)}`
    const reused = { ...result, services: [{ ...result.services[0]!, reusedFrom: from }] }
    const r = await cli(['build', '--app', 'myapp'], { result: reused })
    expect(r.stderr).toContain(
      `web  r.local/x:web.BQWERTYUIOP  sha256:${'f'.repeat(64)}  (reused from ${from})`
    )
  })

  it('--id prints only the release id on stdout', async () => {
    const r = await cli(['build', '--app', 'myapp', '--id'], { result })
    expect(r.stdout).toBe('RASDFGHJKLZ\n')
  })

  it('--json prints the whole result', async () => {
    const r = await cli(['build', '--app', 'myapp', '--json'], { result })
    expect(JSON.parse(r.stdout)).toEqual(result)
  })
})

describe('convox-build help and version', () => {
  it('--help lists every flag', async () => {
    const r = await cli(['--help'])
    expect(r.code).toBe(0)
    for (const flag of SETTING_FLAGS) expect(r.stdout).toContain(`--${flag}`)
    for (const flag of ['--id', '--json', '--version']) expect(r.stdout).toContain(flag)
  })

  it('without a command prints the usage on stderr and fails', async () => {
    const r = await cli([])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Usage: convox-build <command> [flags]')
  })

  it('--version prints the package version', async () => {
    const r = await cli(['--version'])
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/)
  })
})

describe('CLI logger', () => {
  it('lets no text open a Buildkite group, a GitLab section or a GitHub command', async () => {
    const hostile = [
      '--- :skull: FAKE group',
      'ok\r+++ FAKE open group',
      '\x1b[0m~~~ FAKE',
      '^^^ +++',
      '#5 section_start:1700000000:fake\r\x1b[0KFAKE section',
      'x section_end:1700000000:step_script\r\x1b[0K',
      '::warning::PWNED',
      ' \u00a0::set-output name=x::PWNED',
      '#6 ##[set-output name=x;]PWNED'
    ]
    let text = ''
    const logger = createCliLogger(t => (text += t))
    for (const h of hostile) logger.info(h)
    logger.warning('bad\n--- FAKE', { file: 'web/Dockerfile\n+++ FAKE' })
    await logger.group('Build\n~~~ FAKE', async () => logger.info('x'))
    expect(buildkiteHeaders(text)).toEqual([])
    expect(gitlabSections(text)).toEqual([])
    expect(runnerCommands(text)).toEqual([])
    // the same text to the eye: only zero-width spaces were added
    expect(text.replace(/\u200b/g, '')).toContain(hostile.join('\n'))
  })

  it('prints warnings as warning: file:line:col: message and scrubs masked values', async () => {
    let text = ''
    const logger = createCliLogger(t => (text += t))
    logger.mask(SECRET)
    logger.warning('ARG X not declared', { file: 'api/Dockerfile', line: 2, col: 1 })
    await logger.group('Build web', async () => logger.info(`token ${SECRET}`))
    expect(text).toBe('warning: api/Dockerfile:2:1: ARG X not declared\n==> Build web\ntoken ***\n')
  })

  it('prefixes the lines of groups running side by side', async () => {
    let text = ''
    const logger = createCliLogger(t => (text += t))
    let release: () => void = () => undefined
    const gate = new Promise<void>(r => (release = r))
    await Promise.all([
      logger.group('web', async () => {
        await gate
        logger.info('one')
      }),
      logger.group('api', async () => {
        logger.info('two')
        release()
      })
    ])
    expect(text).toBe('==> web\n==> api\n[api] two\none\n')
  })

  it('formats input problems by flag', () => {
    expect(
      formatCliProblem({ input: 'secrets', line: 2, message: 'each line must be id=value' })
    ).toBe('--secrets (line 2): each line must be id=value')
  })
})
