import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
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

describe('positions by binary search, as a scan of every replacement finds them', () => {
  // The scans the searches replaced (once per service and problem, they made planning quadratic).
  function scanOffset(r: ReturnType<typeof interpolate>, offset: number): number {
    let delta = 0
    for (const x of r.replacements) {
      if (offset < x.outStart) break
      if (offset === x.outStart || offset < x.outEnd) return x.start
      delta = x.end - x.outEnd
    }
    return offset + delta
  }
  const scanIn = (r: ReturnType<typeof interpolate>, start: number, end: number) =>
    r.replacements.filter(x =>
      x.outStart === x.outEnd
        ? x.outStart >= start && x.outStart <= end
        : x.outStart < end && x.outEnd > start
    )

  it('agree on every offset and range of generated texts', () => {
    const piece = fc.oneof(
      fc.constantFrom('${A}', '${B}', '${U}', '${E}', '${}', 'x', 'yz', '\n', '$'),
      fc.string({ maxLength: 3 })
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), pieces => {
        const r = interpolate(pieces.join(''), { A: 'aaa', B: 'b', E: '' })
        for (let o = 0; o <= r.text.length; o++) {
          expect(sourceOffset(r, o)).toBe(scanOffset(r, o))
          for (let e = o; e <= Math.min(r.text.length, o + 6); e++) {
            expect(replacementsIn(r, o, e)).toEqual(scanIn(r, o, e))
          }
        }
      })
    )
  })
})
