import { describe, expect, it } from '@jest/globals'
import { isUserError } from '../../src/core/errors.js'
import { decidePlatforms, normalisePlatforms } from '../../src/core/platform-choice.js'
import { readSettings } from '../../src/core/settings.js'

describe('normalisePlatforms', () => {
  it('trims, lowercases, adds linux/ to a bare arch and drops duplicates in order', () => {
    expect(
      normalisePlatforms([' linux/arm64', 'AMD64', '', 'linux/arm64', 'linux/arm/v7'])
    ).toEqual(['linux/arm64', 'linux/amd64', 'linux/arm/v7'])
    expect(normalisePlatforms([])).toEqual([])
  })

  it.each(['linux/', 'linux//arm64', 'linux/arm64/v8/x', 'linux arm64', 'linux/amd64;rm'])(
    'refuses %j naming the input',
    value => {
      let caught: unknown
      try {
        normalisePlatforms([value])
      } catch (e) {
        caught = e
      }
      expect(isUserError(caught)).toBe(true)
      expect((caught as Error).message).toMatch(/^input "platforms": ".*" is not a platform/)
    }
  )

  it('is what readSettings keeps, and a bad value is a problem of the platforms input', () => {
    const read = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? ''
    const env = { env: {}, cwd: '/tmp' }
    expect(readSettings(read({ platforms: 'linux/amd64, arm64' }), env).platforms).toEqual([
      'linux/amd64',
      'linux/arm64'
    ])
    expect(() => readSettings(read({ platforms: 'linux/amd64,x y' }), env)).toThrow(
      'input "platforms": "x y" is not a platform'
    )
  })
})

describe('decidePlatforms', () => {
  it('takes the platforms input first, whatever the app says', () => {
    expect(decidePlatforms({ input: ['linux/amd64', 'linux/arm64'], buildArch: 'arm64' })).toEqual({
      platforms: ['linux/amd64', 'linux/arm64'],
      source: 'input',
      reason: 'platforms linux/amd64,linux/arm64 (the platforms input)'
    })
  })

  it.each(['arm64', 'linux/arm64', ' ARM64 '])('builds for the app BuildArch %j', arch => {
    expect(decidePlatforms({ input: [], buildArch: arch })).toEqual({
      platforms: ['linux/arm64'],
      source: 'build-arch',
      reason: "platforms linux/arm64 (the app's BuildArch)"
    })
  })

  it('gives BuildKit no platform without input or BuildArch, and says why', () => {
    expect(decidePlatforms({ input: [] })).toEqual({
      platforms: [],
      source: 'builder',
      reason: "platforms: the builder's own (no platforms input)"
    })
    expect(decidePlatforms({ input: [], buildArch: '', builderPlatform: 'linux/amd64' })).toEqual({
      platforms: [],
      source: 'builder',
      reason:
        "platforms: the builder's own (linux/amd64, no platforms input and no BuildArch on the app)"
    })
  })

  it('refuses a BuildArch the rack refuses (provider/k8s/build.go: amd64 or arm64)', () => {
    expect(() => decidePlatforms({ input: [], buildArch: 'x86_64' })).toThrow(
      `input "platforms": the app's BuildArch is "x86_64", which a rack refuses (amd64 or arm64)`
    )
  })
})
