// core/engine/local-cache.ts on real files: a run's snapshot is hard links of the cache, its
// export goes in by renames, and what killed runs left beside the cache is removed.
import { existsSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import {
  installLocalCache,
  localCachePaths,
  prepareLocalCache,
  releaseLocalCache
} from '../../src/core/engine/local-cache.js'
import { OWNER } from '../../src/core/run-owner.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'local-cache-'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

async function layout(at: string, text: string): Promise<void> {
  await mkdir(path.join(at, 'blobs', 'sha256'), { recursive: true })
  await writeFile(path.join(at, 'index.json'), text)
  await writeFile(path.join(at, 'blobs', 'sha256', 'aa'), text)
}

describe('local cache of one run among others', () => {
  it('reads a hard-linked snapshot, installs its export by rename, leaves nothing of its own', async () => {
    const p = localCachePaths(dir, 'web')
    await layout(p.src, 'old')
    await prepareLocalCache(p)
    expect(statSync(path.join(p.read, 'blobs', 'sha256', 'aa')).ino).toBe(
      statSync(path.join(p.src, 'blobs', 'sha256', 'aa')).ino
    )
    // another run installs its cache while this one builds: this one's snapshot does not change
    const other = localCachePaths(dir, 'web')
    await layout(other.dest, 'other')
    await installLocalCache(other)
    expect(await readFile(path.join(p.read, 'index.json'), 'utf8')).toBe('old')
    await layout(p.dest, 'mine')
    await installLocalCache(p)
    await releaseLocalCache(p)
    expect(await readFile(path.join(p.src, 'index.json'), 'utf8')).toBe('mine')
    expect(await readdir(dir)).toEqual(['web'])
  })

  it('removes what a killed run left beside the cache, never a live run’s', async () => {
    const dead = `99999999-1`
    const machine = OWNER.split('-')[0]
    const left = [
      `web.read-${machine}-${dead}-0123abcd`,
      `web.new-${machine}-${dead}-0123abcd`,
      `web.new-${machine}-${dead}-0123abcd.old`
    ]
    const live = [`web.new-${OWNER}-0badf00d`, `api.read-${OWNER}-0badf00d`]
    for (const d of [...left, ...live]) await mkdir(path.join(dir, d))
    const p = localCachePaths(dir, 'web')
    await prepareLocalCache(p)
    for (const d of left) expect(existsSync(path.join(dir, d))).toBe(false)
    for (const d of live) expect(existsSync(path.join(dir, d))).toBe(true)
    // no cache yet: no snapshot either (BuildKit finds nothing to import, as on a first build)
    expect(existsSync(p.read)).toBe(false)
  })
})
