// A Dockerfile in a directory built by the rig's buildkitd, for images made or read back by tests.
import type { ExecResult } from '../../src/core/exec.js'
import { buildctl, type RunOptions } from './rig.js'

export interface DirBuildOptions extends RunOptions {
  /** Adds `--no-cache`. */
  noCache?: boolean
  /** More `buildctl build` flags (cache import and export). */
  flags?: string[]
}

/**
 * `buildctl build` of `dir`'s Dockerfile with `dir` as context, to `output` (a buildctl
 * `--output` value, e.g. `type=local,dest=...`); never throws for a non-zero exit.
 */
export function buildDir(
  dir: string,
  output: string,
  { noCache = false, flags = [], ...options }: DirBuildOptions = {}
): Promise<ExecResult> {
  return buildctl(
    [
      'build',
      ...(noCache ? ['--no-cache'] : []),
      '--frontend',
      'dockerfile.v0',
      '--local',
      `context=${dir}`,
      '--local',
      `dockerfile=${dir}`,
      ...flags,
      '--output',
      output
    ],
    options
  )
}
