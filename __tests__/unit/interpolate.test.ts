import { describe, expect, it } from '@jest/globals'
import { interpolate, replacementsIn, sourceOffset } from '../../src/core/interpolate.js'

describe('interpolate, as the rack (pkg/manifest/helpers.go)', () => {
  it.each([
    ['plain', 'a ${A} b', { A: '1' }, 'a 1 b'],
    ['unset becomes empty', 'a ${X} b', {}, 'a  b'],
    ['set empty', 'a${E}b', { E: '' }, 'ab'],
    ['no default form', '${A:-d}', { A: '1' }, ''],
    ['the whole name between braces', '${A:-d}', { 'A:-d': 'odd' }, 'odd'],
    ['empty braces', 'x${}y', {}, 'xy'],
    ['no $VAR form', '$A ${A}', { A: '1' }, '$A 1'],
    ['no escape', '$${A}', { A: '1' }, '$1'],
    ['first closing brace ends it', '${A}}', { A: '1' }, '1}'],
    ['spans newlines', '${A\nB}', { 'A\nB': 'v' }, 'v'],
    ['unclosed is left alone', '${A', { A: '1' }, '${A'],
    ['not recursive', '${A}', { A: '${B}', B: 'no' }, '${B}'],
    ['inherited properties are not variables', '${toString}${__proto__}', {}, '']
  ])('%s', (_n, source, env, text) => {
    expect(interpolate(source, env).text).toBe(text)
  })

  it('records each replacement and maps offsets back', () => {
    const r = interpolate('ab${LONG}cd${S}ef', { LONG: 'x', S: 'yyyy' })
    expect(r.text).toBe('abxcdyyyyef')
    expect(r.replacements.map(x => [x.name, x.set])).toEqual([
      ['LONG', true],
      ['S', true]
    ])
    expect([0, 1, 2, 3, 4, 5, 6, 9, 10].map(o => sourceOffset(r, o))).toEqual([
      0, 1, 2, 9, 10, 11, 11, 15, 16
    ])
    expect(replacementsIn(r, 0, 2).map(x => x.name)).toEqual([])
    expect(replacementsIn(r, 0, 4).map(x => x.name)).toEqual(['LONG'])
  })

  it('maps a position at an empty value to its ${', () => {
    const r = interpolate('a: ${X}-b', {})
    expect(r.text).toBe('a: -b')
    expect(sourceOffset(r, 3)).toBe(3)
    expect(sourceOffset(r, 4)).toBe(8)
    expect(replacementsIn(r, 3, 5).map(x => x.name)).toEqual(['X'])
  })
})
