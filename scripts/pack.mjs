// `node scripts/pack.mjs [DIR]`: the npm package as `npm pack` makes it from a fresh bundle,
// without touching dist/: package.json, README.md and bin/ are staged beside a new dist/, then
// packed into DIR (default: the working directory). Prints the tarball's path.
import { execFileSync } from 'node:child_process'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundle } from './bundle.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Packs the package into outDir; returns the tarball's absolute path. */
async function pack(outDir = process.cwd()) {
  const stage = await mkdtemp(path.join(tmpdir(), 'convox-build-pack-'))
  try {
    for (const f of ['package.json', 'README.md', 'bin']) {
      await cp(path.join(root, f), path.join(stage, f), { recursive: true })
    }
    await bundle(path.join(stage, 'dist'))
    const out = execFileSync(
      'npm',
      ['pack', '--json', '--ignore-scripts', '--pack-destination', path.resolve(outDir)],
      { cwd: stage, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }
    )
    const [info] = JSON.parse(out)
    return path.resolve(outDir, info.filename)
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
}

console.log(await pack(process.argv[2]))
