import { readFileSync } from 'node:fs'
import { describe, expect, it } from '@jest/globals'
import { parse } from 'yaml'
import { readSettings } from '../../src/core/settings.js'
import { SETTING_FLAGS } from '../../src/cli/args.js'

interface ActionYml {
  runs: { using: string; main: string; post: string }
  inputs: Record<string, { description: string; default?: string }>
  outputs: Record<string, { description: string }>
}
const action = parse(readFileSync('action.yml', 'utf8')) as ActionYml

describe('action.yml', () => {
  it('runs the bundle on node24 with a post step', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js', post: 'dist/post.js' })
  })

  it('declares exactly the settings the CLI takes, in the same order, each described', () => {
    expect(Object.keys(action.inputs)).toEqual([...SETTING_FLAGS])
    for (const input of Object.values(action.inputs))
      expect(input.description.length).toBeGreaterThan(10)
  })

  it('declares every input the settings parser reads, and the parser reads each', () => {
    const read = new Set<string>()
    readSettings(
      name => {
        read.add(name)
        return name === 'app' ? 'x' : ''
      },
      { env: {}, cwd: process.cwd() }
    )
    expect([...read].filter(n => !(n in action.inputs))).toEqual([])
    expect(Object.keys(action.inputs).filter(n => !read.has(n))).toEqual([])
  })

  it('keeps defaults the runner cannot compute out of action.yml', () => {
    // ... and those that come from Convox's own names (CONVOX_APP, CONVOX_RACK, CONVOX_HOST).
    const computed = ['app', 'description', 'push', 'buildkit-host', 'concurrency', 'rack-url']
    for (const name of [...computed, 'rack', 'convox-host', 'convox-password']) {
      expect(action.inputs[name]?.default).toBeUndefined()
    }
    expect(action.inputs.manifest?.default).toBe('convox.yml')
    expect(action.inputs.summary?.default).toBe('true')
  })

  it('declares the outputs', () => {
    expect(Object.keys(action.outputs)).toEqual([
      'build-id',
      'release-id',
      'images',
      'digests',
      'plan',
      'export-path',
      'artifact-id',
      'artifact-url',
      'matrix',
      'reused',
      'review-app',
      'review-urls'
    ])
  })
})
