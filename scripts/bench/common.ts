// Small pieces the build benchmarks (bench.ts, real.ts) share.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { ExecResult } from '../../src/core/exec.js'

export function check(r: ExecResult, what: string): void {
  if (r.exitCode !== 0) throw new Error(`${what} failed (${r.exitCode}): ${r.stderr.slice(-1500)}`)
}

/** Commits everything in `dir` (a git repository made on first use): the CLI reads the commit. */
export function commit(dir: string, message: string): void {
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', ...args], { cwd: dir })
  if (!existsSync(path.join(dir, '.git'))) git('init', '-q')
  git('add', '-A')
  git('commit', '-qm', message)
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
export const ratio = (r: number): string => `${r.toFixed(2)}x`

/** `convox-build build` of the app `bench` as the benchmarks run it (its output as JSON). */
export function cliBuildArgs(
  cli: string,
  repo: string,
  registryUsername: string,
  engineFlags: string[]
): string[] {
  return [
    cli,
    'build',
    '--app',
    'bench',
    '--registry',
    repo,
    '--registry-username',
    registryUsername,
    ...engineFlags,
    '--json'
  ]
}
