import { describe, expect, it } from '@jest/globals'
import {
  buildAuth,
  parseBuildArgs,
  MANAGED_ARGS,
  type ManagedArg
} from '../../src/core/build-args.js'
import { UserError } from '../../src/core/errors.js'
import { silentLogger, type Logger } from '../../src/core/log.js'
import { readSettings } from '../../src/core/settings.js'
import { thrown } from '../helpers/errors.js'

function recorder(): Logger & { warnings: string[]; masked: string[] } {
  const warnings: string[] = []
  const masked: string[] = []
  return {
    ...silentLogger,
    warnings,
    masked,
    warning: (m, w) => void warnings.push(`${w?.input}:${w?.line}: ${m}`),
    mask: s => void masked.push(s)
  }
}

const managed = (n: ManagedArg): string => `managed-${n}`

function parse(lines: string[], env: NodeJS.ProcessEnv = {}, logger = recorder()) {
  return parseBuildArgs(lines, { env, managed, logger }).map(a => [a.name, a.value])
}

describe('parseBuildArgs', () => {
  it.each([
    ['NAME=VALUE', ['A=1'], [['A', '1']]],
    [
      'value keeps = and spaces verbatim',
      ['A=x=y = z', 'B=  lead'],
      [
        ['A', 'x=y = z'],
        ['B', '  lead']
      ]
    ],
    [
      'quotes are kept',
      ['A="q"', "B='s'"],
      [
        ['A', '"q"'],
        ['B', "'s'"]
      ]
    ],
    ['empty value', ['A='], [['A', '']]],
    ['bare name from the environment', ['FROM_ENV'], [['FROM_ENV', 'env value']]],
    ['bare name set empty in the environment', ['EMPTY'], [['EMPTY', '']]],
    ['bare managed name', ['BUILD_GIT_SHA'], [['BUILD_GIT_SHA', 'managed-BUILD_GIT_SHA']]],
    ['managed beats the environment', ['BUILD_ID'], [['BUILD_ID', 'managed-BUILD_ID']]],
    ['blank lines are skipped', ['', 'A=1', '   '], [['A', '1']]],
    ['lower case and underscores', ['_a_1=x'], [['_a_1', 'x']]]
  ])('%s', (_n, lines, expected) => {
    expect(parse(lines, { FROM_ENV: 'env value', EMPTY: '', BUILD_ID: 'from env' })).toEqual(
      expected
    )
  })

  it('each managed arg is known', () => {
    expect(parse([...MANAGED_ARGS])).toEqual(MANAGED_ARGS.map(n => [n, `managed-${n}`]))
  })

  it('a later line wins, with a warning naming both lines', () => {
    const l = recorder()
    expect(parse(['A=1', 'B=2', 'A=3'], {}, l)).toEqual([
      ['B', '2'],
      ['A', '3']
    ])
    expect(l.warnings).toEqual([
      'build-args:3: A is given again (first on line 1); the last one wins'
    ])
  })

  it('warns when NAME=VALUE overrides a managed arg', () => {
    const l = recorder()
    expect(parse(['BUILD_APP=mine'], {}, l)).toEqual([['BUILD_APP', 'mine']])
    expect(l.warnings).toEqual([
      'build-args:1: BUILD_APP=... overrides the managed value of BUILD_APP'
    ])
  })

  it('reports every bad line at once, naming the input and line', () => {
    const e = thrown(() =>
      parse(['OK=1', 'UNKNOWN', '1BAD=x', 'BAD-NAME', '=x', 'SP ACE=1', 'A B'])
    )
    {
      const problems = e.problems
      expect(problems.map(p => [p.input, p.line])).toEqual([
        ['build-args', 2],
        ['build-args', 3],
        ['build-args', 4],
        ['build-args', 5],
        ['build-args', 6],
        ['build-args', 7]
      ])
      expect(problems[0]?.message).toMatch(
        /^UNKNOWN is not a managed build arg .* and is not set in the environment/
      )
      expect(problems[1]?.message).toMatch(/^"1BAD=" is not a valid build arg name/)
      // The line is said once, where the problem is (not also in its message).
      expect(e.message).toContain('input "build-args" line 2: UNKNOWN')
      expect(e.message).not.toMatch(/line \d+: line/)
    }
  })

  it('does not find names on Object.prototype', () => {
    expect(() => parse(['constructor'])).toThrow(UserError)
  })

  it('masks BUILD_AUTH, managed or given', () => {
    const l = recorder()
    parseBuildArgs(['BUILD_AUTH', 'A=1'], { env: {}, managed, logger: l })
    expect(l.masked).toEqual(['managed-BUILD_AUTH'])
    const l2 = recorder()
    parseBuildArgs(['BUILD_AUTH={"x":1}'], { env: {}, managed, logger: l2 })
    expect(l2.masked).toEqual(['{"x":1}'])
  })

  it('computes a managed value only when named', () => {
    const asked: string[] = []
    parseBuildArgs(['BUILD_APP'], {
      env: {},
      managed: n => {
        asked.push(n)
        return 'x'
      },
      logger: silentLogger
    })
    expect(asked).toEqual(['BUILD_APP'])
  })
})

describe('buildAuth', () => {
  const settings = (inputs: Record<string, string>) =>
    readSettings(n => inputs[n] ?? '', { env: {}, cwd: '/tmp/app' })
  it.each([
    ['nothing', {}, {}],
    [
      'push registry',
      { registry: 'ghcr.io/acme/app', 'registry-username': 'u', 'registry-password': 'p' },
      { 'ghcr.io/acme/app': { Username: 'u', Password: 'p' } }
    ],
    [
      'Docker Hub',
      { 'docker-hub-username': 'hu', 'docker-hub-password': 'hp' },
      { 'docker.io': { Username: 'hu', Password: 'hp' } }
    ],
    [
      'both, Docker Hub mirror',
      {
        registry: 'localhost:5000/app',
        'registry-username': 'u',
        'registry-password': 'p"w',
        'docker-hub-registry': 'localhost:5001',
        'docker-hub-username': 'hu',
        'docker-hub-password': 'hp'
      },
      {
        'localhost:5001': { Username: 'hu', Password: 'hp' },
        'localhost:5000/app': { Username: 'u', Password: 'p"w' }
      }
    ],
    ['registry without credentials', { registry: 'ghcr.io/acme/app' }, {}]
  ])('%s', (_n, inputs, expected) => {
    expect(JSON.parse(buildAuth(settings(inputs)))).toEqual(expected)
  })
})
