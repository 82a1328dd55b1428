// Two runs with `cache: local` at once on one machine, on the real rig: each reads a snapshot of
// its own and writes beside the cache directory, then renames its export in; neither removes the
// other's cache, and what is left is a whole cache. No prune: other rig files share the builder.
import { beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan } from '../../src/core/engine/index.js'
import { OWNER } from '../../src/core/run-owner.js'
import { CACHE_APP_SERVICE, cacheAppPlan, writeCacheApp } from '../helpers/cache-app.js'
import { rigEngineSettings, rigRunEnvironment } from '../helpers/engine-plan.js'
import { captureLogger } from '../helpers/logger.js'
import { loadRig, uniqueRepo, type Rig } from '../helpers/rig.js'

let rig: Rig
beforeAll(() => {
  rig = loadRig()
})

interface OciIndex {
  manifests?: { digest: string; mediaType?: string }[]
  layers?: { digest: string }[]
  config?: { digest: string }
}

/** Every blob the cache's index.json reaches is there: a whole OCI layout, not half of two. */
async function checkWhole(dir: string): Promise<number> {
  const blob = (digest: string): string => path.join(dir, 'blobs', ...digest.split(':'))
  const seen = new Set<string>()
  const walk = async (digest: string): Promise<void> => {
    if (seen.has(digest)) return
    seen.add(digest)
    expect(existsSync(blob(digest))).toBe(true)
    const text = await readFile(blob(digest), 'utf8').catch(() => '')
    let json: OciIndex
    try {
      json = JSON.parse(text) as OciIndex
    } catch {
      return // a layer
    }
    const refs = [...(json.manifests ?? []), ...(json.layers ?? []), json.config]
    // BuildKit's cache config names its layers by `blob`: those are in the manifest's layers too
    for (const d of refs) if (typeof d?.digest === 'string') await walk(d.digest)
  }
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as OciIndex
  for (const m of index.manifests ?? []) await walk(m.digest)
  return seen.size
}

describe.each(['buildctl', 'buildx'] as const)('cache: local, two runs at once with %s', engine => {
  it('keeps each run’s cache whole and leaves a live run’s files alone', async () => {
    const root = await writeCacheApp('local-cache-concurrent-')
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'local-cache-concurrent-'))
    // a third run, alive (this process), in the middle of its own read and export
    const live = [
      `${CACHE_APP_SERVICE}.read-${OWNER}-0badf00d`,
      `${CACHE_APP_SERVICE}.new-${OWNER}-0badf00d`
    ]
    for (const d of live) {
      await mkdir(path.join(cacheDir, d))
      await writeFile(path.join(cacheDir, d, 'index.json'), '{}')
    }
    const registry = uniqueRepo(`local-cache-concurrent-${engine}`, rig)
    const s = rigEngineSettings(rig, engine, registry, { cache: 'local' })
    const run = async () => {
      const c = captureLogger()
      const tempDir = await mkdtemp(path.join(tmpdir(), 'local-cache-run-'))
      const r = await buildPlan(
        cacheAppPlan(root, registry),
        s,
        rigRunEnvironment(rig, c, tempDir, cacheDir)
      )
      return { r, log: c.text() }
    }
    const [a, b] = await Promise.all([run(), run()])
    for (const x of [a, b]) {
      expect(x.r.services[0]!.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(x.log).not.toMatch(/local cache not saved/)
      // nothing to read yet: a first build (the client's own warning)
      expect(x.log).toMatch(/local cache import at \S+ skipped/)
      expect(x.r.warnings.join('\n')).not.toMatch(/local cache|exporting cache/i)
    }
    expect((await readdir(cacheDir)).sort()).toEqual([CACHE_APP_SERVICE, ...live].sort())
    expect(await checkWhole(path.join(cacheDir, CACHE_APP_SERVICE))).toBeGreaterThan(2)
    for (const d of live)
      expect(await readFile(path.join(cacheDir, d, 'index.json'), 'utf8')).toBe('{}')

    // and the next run reads it
    const third = await run()
    expect(third.log).not.toMatch(/local cache not saved/)
    // BuildKit read this run's snapshot of it
    expect(third.log).not.toMatch(/local cache import at \S+ skipped|cache not imported/)
    expect(await checkWhole(path.join(cacheDir, CACHE_APP_SERVICE))).toBeGreaterThan(2)
  })
})
