// `npm run bench:reuse-key`: the context digest of the reuse key on a context of 10,000 files /
// 500 MB, file cache warm: a clean git checkout (blob ids from git's index), the same checkout
// with 10 files changed and 10 untracked (only those read), and without git (every file read).
// BENCH_KEY_FILES and BENCH_KEY_MB change the size.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawnExec } from '../../src/core/exec.js'
import { contextDigest } from '../../src/core/reuse/context.js'

const FILES = Number(process.env.BENCH_KEY_FILES ?? 10_000)
const MB = Number(process.env.BENCH_KEY_MB ?? 500)
const RUNS = 5

async function writeContext(dir: string): Promise<void> {
  // Mostly small files, a few large ones, as in an app with assets.
  const large = 20
  const largeSize = Math.floor((MB * 0.8 * 1024 * 1024) / large)
  const smallSize = Math.floor((MB * 0.2 * 1024 * 1024) / (FILES - large))
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(dir, `d${i % 100}`, `e${i % 7}`)
    await mkdir(sub, { recursive: true })
    await writeFile(path.join(sub, `f${i}.bin`), randomBytes(i < large ? largeSize : smallSize))
  }
  await writeFile(path.join(dir, '.dockerignore'), '.git\n*.tmp\n')
}

function git(dir: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', ...args], { cwd: dir })
}

async function time(dir: string, useGit: boolean): Promise<{ ms: number; hashed: number }> {
  const patterns = ['.git', '*.tmp']
  const times: number[] = []
  let hashed = 0
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    const d = await contextDigest(dir, patterns, { exec: spawnExec, git: useGit })
    times.push(performance.now() - t0)
    hashed = d.hashed
  }
  times.sort((a, b) => a - b)
  return { ms: times[Math.floor(RUNS / 2)]!, hashed }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-key-'))
  try {
    await writeContext(dir)
    git(dir, 'init', '-q')
    git(dir, 'add', '-A')
    git(dir, 'commit', '-qm', 'context')
    // A checkout whose index is fresh, as after `git checkout` (stat data refreshed).
    git(dir, 'update-index', '--refresh')
    const clean = await time(dir, true)
    for (let i = 0; i < 10; i++) {
      await writeFile(path.join(dir, `d${i}`, `e${i % 7}`, `f${100 + i}.bin`), randomBytes(1000))
      await writeFile(path.join(dir, `d${i}`, `new${i}.bin`), randomBytes(1000))
    }
    const changed = await time(dir, true)
    const noGit = await time(dir, false)
    console.log(
      [
        `context: ${FILES} files, ${MB} MB; median of ${RUNS} runs, file cache warm`,
        '',
        '| case | files read | time |',
        '|---|---|---|',
        `| clean git checkout (blob ids from the index) | ${clean.hashed} | ${Math.round(clean.ms)} ms |`,
        `| 10 files changed, 10 untracked | ${changed.hashed} | ${Math.round(changed.ms)} ms |`,
        `| no git (every file read and hashed) | ${noGit.hashed} | ${Math.round(noGit.ms)} ms |`
      ].join('\n')
    )
    if (clean.ms >= 1000 || changed.ms >= 1000) process.exitCode = 1
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
