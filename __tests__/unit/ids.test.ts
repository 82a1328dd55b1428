import { describe, expect, it } from '@jest/globals'
import {
  newBuildId,
  newReleaseId,
  BUILD_ID_PATTERN,
  RELEASE_ID_PATTERN
} from '../../src/core/ids.js'

describe('ids', () => {
  it('makes B/R + 10 letters A-Z', () => {
    for (let i = 0; i < 200; i++) {
      expect(newBuildId()).toMatch(/^B[A-Z]{10}$/)
      expect(newReleaseId()).toMatch(/^R[A-Z]{10}$/)
    }
    expect(BUILD_ID_PATTERN.test(newBuildId())).toBe(true)
    expect(RELEASE_ID_PATTERN.test(newReleaseId())).toBe(true)
  })

  it('uses every letter about evenly (no modulo bias, no repeats)', () => {
    const counts = new Map<string, number>()
    const ids = new Set<string>()
    const n = 5000
    for (let i = 0; i < n; i++) {
      const id = newBuildId()
      ids.add(id)
      for (const c of id.slice(1)) counts.set(c, (counts.get(c) ?? 0) + 1)
    }
    expect(ids.size).toBe(n)
    expect(counts.size).toBe(26)
    // 50000 letters: expected 1923 each; a chi-square over 25 degrees of freedom stays far below 80.
    const expected = (n * 10) / 26
    let chi = 0
    for (const c of counts.values()) chi += (c - expected) ** 2 / expected
    expect(chi).toBeLessThan(80)
  })
})
