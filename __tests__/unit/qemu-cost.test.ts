// The QEMU benchmark (scripts/bench/qemu-cost.ts) reads each step's time from buildctl's plain
// progress output, where busybox's `time` prints `real\t0m 2.13s` after the step's id and clock.
import { describe, expect, it } from '@jest/globals'
import { stepSeconds, workloads } from '../../scripts/bench/qemu-cost.js'

const PROGRESS = [
  '#5 [2/3] RUN echo "$SALT" && time sh -c \'dd if=/dev/zero bs=1M count=300 2>/dev/null | sha256sum\'',
  '#5 0.061 4f2a9c',
  '#5 2.171 9674b2a1bd9bbbfd9ea8fb5cfdfc0d72ba8bd4a5a8b2b1b4b8c8e5d8e3e1f0b5  -',
  '#5 2.172 real\t0m 2.10s',
  '#5 2.172 user\t0m 1.61s',
  '#5 2.172 sys\t0m 0.93s',
  '#5 DONE 2.3s',
  '',
  '#6 [3/3] RUN echo "$SALT" && time sh -c \'i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done\'',
  '#6 0.055 4f2a9c',
  '#6 62.419 real\t1m 2.36s',
  '#6 62.419 user\t0m 59.53s',
  '#6 DONE 62.5s'
].join('\n')

describe('stepSeconds', () => {
  it("reads each step's wall time in order, minutes included, not user or sys", () => {
    expect(stepSeconds(PROGRESS)).toEqual([2.1, 62.36])
  })

  it('finds nothing in output without a time', () => {
    expect(stepSeconds('#5 DONE 0.1s\n')).toEqual([])
  })
})

describe('workloads', () => {
  it('scales the work, with a floor so a small run still measures something', () => {
    expect(workloads(1).map(w => w.name)).toEqual([
      'sha256 of 300 MB of zeros',
      'shell loop of 1,000,000 iterations'
    ])
    expect(workloads(0.01).map(w => w.name)).toEqual([
      'sha256 of 10 MB of zeros',
      'shell loop of 50,000 iterations'
    ])
  })
})
