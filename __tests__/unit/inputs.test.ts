// The settings table (src/core/inputs.ts) is the one list of inputs: the generated files hold
// what it gives, the packages that list inputs by hand list its rows, and readSettings reads
// every row with the row's default and variables.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from '@jest/globals'
import { parse } from 'yaml'
import { INPUTS, inputsOf, type Input, type Shell } from '../../src/core/inputs.js'
import { SECRET_INPUTS, SECRET_LINE_INPUTS } from '../../src/core/secrets.js'
import { readSettings, type Settings } from '../../src/core/settings.js'
import { GENERATED } from '../../scripts/inputs/render.js'
import { REPO_ROOT } from '../helpers/rig.js'

const read = (f: string): string => readFileSync(path.join(REPO_ROOT, f), 'utf8')
const names = (shell: Shell): string[] => inputsOf(shell).map(i => i.name)
const field = (name: string): keyof Settings =>
  name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Settings

describe('the settings table', () => {
  it('has each input once, each with its texts, choices with options, numbers with a minimum', () => {
    expect(new Set(INPUTS.map(i => i.name)).size).toBe(INPUTS.length)
    for (const i of INPUTS as readonly Input[]) {
      expect([i.name, i.description, i.readme, i.help].every(t => t.trim() !== '')).toBe(true)
      expect(i.shells).toEqual(expect.arrayContaining(['action', 'cli']))
    }
    const rows = INPUTS as readonly Input[]
    for (const i of rows.filter(r => r.type === 'choice')) expect(i.options).toContain(i.default)
    for (const i of rows.filter(r => r.type === 'number')) expect(typeof i.min).toBe('number')
  })

  it('gives the secret lists; no secret is a property of a CI package file', () => {
    const secret = (INPUTS as readonly Input[]).filter(i => i.secret)
    expect([...SECRET_INPUTS, ...SECRET_LINE_INPUTS].sort()).toEqual(secret.map(i => i.name).sort())
    expect(SECRET_INPUTS).toEqual(expect.arrayContaining(['registry-password', 'rack-url']))
    for (const i of secret) expect(i.shells).not.toContain('buildkite')
  })

  it.each(Object.keys(GENERATED))('%s is what `npm run generate` writes from it', file => {
    const text = read(file)
    expect(GENERATED[file]?.(text)).toBe(text)
  })

  it('is what the GitLab component and the CircleCI orb list, by hand', () => {
    const [specDoc] = read('templates/convox-build.yml').split(/^---$/m)
    const spec = Object.keys(parse(specDoc ?? '').spec.inputs)
    const gitlabOwn = ['job-name', 'stage', 'image', 'package', 'command', 'args', 'output-file']
    expect(spec.filter(n => !gitlabOwn.includes(n)).sort()).toEqual(names('gitlab').sort())
    const orb = Object.keys(parse(read('orb/src/commands/build.yml')).parameters)
    const orbOwn = ['command', 'args', 'output-file', 'package']
    expect(orb.filter(n => !orbOwn.includes(n)).sort()).toEqual(names('circleci').sort())
  })
})

describe('readSettings by the table', () => {
  it("takes each boolean's and choice's default from the table", () => {
    const s = readSettings(name => (name === 'app' ? 'x' : ''), { env: {}, cwd: '/work/repo' })
    const typed = (INPUTS as readonly Input[]).filter(
      i => (i.type === 'boolean' || i.type === 'choice') && i.default !== undefined
    )
    expect(typed.length).toBeGreaterThan(10)
    for (const i of typed) {
      const expected = i.type === 'boolean' ? i.default === 'true' : i.default
      expect([i.name, s[field(i.name)]]).toEqual([i.name, expected])
    }
  })

  it("reads each input's variables when it is not given, the input winning", () => {
    const withEnv = (INPUTS as readonly Input[]).filter(i => i.env && !i.envValues)
    expect(withEnv.map(i => i.name)).toEqual(
      expect.arrayContaining(['app', 'rack', 'buildkit-host', 'rack-url', 'convox-password'])
    )
    const value = (i: Input): string => (i.name === 'rack-url' ? 'https://r.example' : 'from-env')
    const env = Object.fromEntries(withEnv.map(i => [i.env?.[0], value(i)]))
    const variableOf = (name: string): string => withEnv.find(i => i.name === name)?.env?.[0] ?? ''
    const fromEnv = readSettings(() => '', { env, cwd: '/work/repo' })
    const givenValue = (name: string): string => (name === 'rack-url' ? 'https://given' : 'given')
    const given = readSettings(name => (env[variableOf(name)] ? givenValue(name) : ''), {
      env,
      cwd: '/work/repo'
    })
    for (const i of withEnv) {
      expect([i.name, fromEnv[field(i.name)]]).toEqual([i.name, value(i)])
      expect([i.name, given[field(i.name)]]).toEqual([i.name, givenValue(i.name)])
    }
  })
})
