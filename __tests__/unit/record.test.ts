import { describe, expect, it } from '@jest/globals'
import {
  buildRecord,
  formatGoTime,
  serializeRecord,
  stripCredentials
} from '../../src/core/export/record.js'
import { BUILD_JSON_KEYS } from '../helpers/build-json.js'
import { Redactor } from '../../src/core/secrets.js'

describe('formatGoTime (Go time.Time JSON, RFC 3339 nano)', () => {
  it.each([
    [new Date('2025-01-02T03:04:05.000Z'), 0, '2025-01-02T03:04:05Z'],
    [new Date('2025-01-02T03:04:05.120Z'), 0, '2025-01-02T03:04:05.12Z'],
    [new Date('2025-01-02T03:04:05.123Z'), 456789, '2025-01-02T03:04:05.123456789Z'],
    [new Date('2025-01-02T03:04:05.000Z'), 10, '2025-01-02T03:04:05.00000001Z']
  ])('%s + %d ns → %s', (date, extraNanos, expected) => {
    expect(formatGoTime({ date, extraNanos })).toBe(expected)
  })
})

describe('buildRecord', () => {
  const base = {
    id: 'BABCDEFGHIJ',
    app: 'myapp',
    started: new Date('2025-01-02T03:04:05.5Z'),
    ended: new Date('2025-01-02T03:06:00Z')
  }

  it('has every key of structs.Build, in order, none omitted', () => {
    const record = buildRecord({ ...base, release: 'RABCDEFGHIJ', manifest: 'services: {}\n' })
    expect(Object.keys(record)).toEqual(BUILD_JSON_KEYS)
    expect(record).toMatchObject({
      status: 'complete',
      started: '2025-01-02T03:04:05.5Z',
      ended: '2025-01-02T03:06:00Z',
      process: '',
      reason: ''
    })
  })

  it('writes Go zero time when the build has not ended', () => {
    expect(buildRecord({ ...base, ended: undefined, status: 'running' }).ended).toBe(
      '0001-01-01T00:00:00Z'
    )
  })

  it('serializes as Go MarshalIndent does (two spaces, HTML-safe escapes)', () => {
    const text = serializeRecord(buildRecord({ ...base, description: 'a <b> & c' }))
    expect(text).toContain('\n  "description": "a \\u003cb\\u003e \\u0026 c",\n')
    expect(JSON.parse(text).description).toBe('a <b> & c')
  })

  it('drops credentials from the repository', () => {
    expect(
      buildRecord({ ...base, repository: 'https://convox:s3cret@api.example.com/myapp' }).repository
    ).toBe('https://api.example.com/myapp')
    expect(stripCredentials('user:pw@registry.example.com/app')).toBe('registry.example.com/app')
    expect(stripCredentials('registry.example.com/app@x')).toBe('registry.example.com/app@x')
    expect(stripCredentials('ghcr.io/acme/app')).toBe('ghcr.io/acme/app')
  })

  it('refuses a record holding a secret value', () => {
    expect(() =>
      buildRecord({
        ...base,
        description: 'token hunter2 here',
        secrets: new Redactor(['hunter2'])
      })
    ).toThrow('secret')
  })

  it('checks ids and status', () => {
    expect(() => buildRecord({ ...base, id: 'B123' })).toThrow('invalid build id')
    expect(() => buildRecord({ ...base, release: 'Rabc' })).toThrow('invalid release id')
  })
})
