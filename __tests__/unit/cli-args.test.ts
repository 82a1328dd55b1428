import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import { readSettings } from '../../src/core/settings.js'
import { envName, parseArgs, settingsReader } from '../../src/cli/args.js'

function problemsOf(fn: () => unknown): string[] {
  try {
    fn()
  } catch (e) {
    if (e instanceof UserError) return e.problems.map(p => `${p.input ?? ''} ${p.message}`.trim())
    throw e
  }
  throw new Error('expected a UserError')
}

describe('CLI arguments', () => {
  it('takes --flag value, --flag=value, bare booleans and repeated build args', () => {
    const args = parseArgs([
      'build',
      '--app',
      'shop',
      '--manifest=convox.prod.yml',
      '--dry-run',
      '--no-cache',
      '--push=false',
      '--build-args',
      'BUILD_GIT_SHA',
      '--build-args=URL=https://x?a=b c',
      '--secrets',
      'npm=tok',
      '--id'
    ])
    expect(args.command).toBe('build')
    expect(args.id).toBe(true)
    const read = settingsReader(args, {})
    expect(read('app')).toBe('shop')
    expect(read('manifest')).toBe('convox.prod.yml')
    expect(read('dry-run')).toBe('true')
    expect(read('no-cache')).toBe('true')
    expect(read('push')).toBe('false')
    expect(read('build-args')).toBe('BUILD_GIT_SHA\nURL=https://x?a=b c')
    expect(read('secrets')).toBe('npm=tok')
    expect(read('rack')).toBe('')
  })

  it('reads CONVOX_BUILD_<NAME> when no flag is given; flags win', () => {
    expect(envName('build-args')).toBe('CONVOX_BUILD_BUILD_ARGS')
    const env = {
      CONVOX_BUILD_APP: 'from-env',
      CONVOX_BUILD_BUILD_ARGS: 'A=1\nB=2',
      CONVOX_BUILD_DOCKER_HUB_REGISTRY: 'mirror.local:5000'
    }
    const read = settingsReader(parseArgs(['plan', '--app', 'from-flag']), env)
    expect(read('app')).toBe('from-flag')
    expect(read('build-args')).toBe('A=1\nB=2')
    expect(read('docker-hub-registry')).toBe('mirror.local:5000')
  })

  it('feeds the same settings parser as the action', () => {
    const args = parseArgs(['plan', '--working-directory', 'examples', '--concurrency=3'])
    const s = readSettings(settingsReader(args, {}, { 'dry-run': 'true' }), {
      env: {},
      cwd: process.cwd()
    })
    expect(s.dryRun).toBe(true)
    expect(s.concurrency).toBe(3)
    expect(s.app).toBe('examples')
  })

  it('reports every mistake at once', () => {
    expect(
      problemsOf(() =>
        parseArgs(['deploy', '--nope', '--app', 'a', '--app', 'b', '--json=1', '--registry'])
      )
    ).toEqual([
      'unknown command "deploy" (commands: plan, build)',
      '--nope unknown flag (see --help)',
      '--app given more than once',
      '--json takes no value',
      '--registry needs a value'
    ])
  })

  it('knows --help, -h and --version without a command', () => {
    expect(parseArgs(['--help']).help).toBe(true)
    expect(parseArgs(['-h']).help).toBe(true)
    expect(parseArgs(['--version']).version).toBe(true)
    expect(parseArgs([]).command).toBeUndefined()
  })
})
