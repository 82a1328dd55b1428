// What QEMU costs a build step: the same CPU-bound RUN steps built for linux/arm64 under emulation
// (binfmt_misc, as the rig registers it) and for linux/amd64 natively, on one daemon, each timed
// inside the step by busybox's `time` (so pulling the base and starting the build do not count).
// The difference is what a builder node of the right architecture saves.
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { buildDir } from '../../__tests__/helpers/dockerfile-build.js'
import type { Rig } from '../../__tests__/helpers/rig.js'
import { check } from './common.js'

export const ARCHES = ['amd64', 'arm64'] as const
export type Arch = (typeof ARCHES)[number]

export interface Workload {
  name: string
  /** A shell command line, run under `time`. */
  command: string
}

export function workloads(scale: number): Workload[] {
  const mb = Math.max(10, Math.round(300 * scale))
  const loops = Math.max(50_000, Math.round(1_000_000 * scale))
  return [
    {
      name: `sha256 of ${mb} MB of zeros`,
      command: `dd if=/dev/zero bs=1M count=${mb} 2>/dev/null | sha256sum`
    },
    {
      name: `shell loop of ${loops.toLocaleString('en')} iterations`,
      command: `i=0; while [ $i -lt ${loops} ]; do i=$((i+1)); done`
    }
  ]
}

/** The seconds of each `time` in buildctl's plain progress output, in the order of the steps. */
export function stepSeconds(progress: string): number[] {
  return [...progress.matchAll(/\breal\s+(\d+)m\s*([\d.]+)s/g)].map(
    m => Number(m[1]) * 60 + Number(m[2])
  )
}

export interface QemuRun {
  /** The rig as the benchmark sees it (its buildkitHost is the daemon used). */
  rig: Rig
  dockerConfig: string
  dir: string
  scale: number
  trials: number
  log: (line: string) => void
}

/** Seconds per workload and architecture, one entry per trial; architectures alternate first. */
export async function qemuCost(run: QemuRun): Promise<Record<Arch, number[][]>> {
  await mkdir(run.dir, { recursive: true })
  const steps = workloads(run.scale).map(w => `RUN echo "$SALT" && time sh -c '${w.command}'`)
  await writeFile(
    path.join(run.dir, 'Dockerfile'),
    ['FROM busybox:multi', 'ARG SALT', ...steps, ''].join('\n')
  )
  const times: Record<Arch, number[][]> = { amd64: [], arm64: [] }
  for (let t = 0; t < run.trials; t++) {
    const order = t % 2 ? [...ARCHES].reverse() : ARCHES
    for (const arch of order) {
      const seconds = await buildSteps(run, arch)
      times[arch].push(seconds)
      run.log(`qemu trial ${t + 1} ${arch}: ${seconds.map(s => `${s.toFixed(2)} s`).join(', ')}`)
    }
  }
  return times
}

/** One build of the steps for `linux/<arch>`, never cached (a new SALT). */
async function buildSteps(run: QemuRun, arch: Arch): Promise<number[]> {
  const r = await buildDir(run.dir, `type=local,dest=${path.join(run.dir, 'out')}`, {
    rig: run.rig,
    dockerConfig: run.dockerConfig,
    flags: [
      '--opt',
      `platform=linux/${arch}`,
      '--opt',
      `build-arg:SALT=${randomBytes(6).toString('hex')}`,
      '--progress',
      'plain'
    ]
  })
  check(r, `the QEMU steps for linux/${arch}`)
  const seconds = stepSeconds(r.stderr)
  const expected = workloads(run.scale).length
  if (seconds.length !== expected) {
    throw new Error(`found ${seconds.length} step times, not ${expected}, for linux/${arch}`)
  }
  return seconds
}
