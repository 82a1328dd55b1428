import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { readTar, repackOciArchive } from '../../src/core/export/oci-archive.js'
import { buildRecord } from '../../src/core/export/record.js'
import { readExport, writeExport } from '../../src/core/export/tarball.js'
import { MediaType, sha256 } from '../../src/core/registry/client.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'export-unit-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/**
 * A BuildKit-like OCI tar: index.json → index (arm64 + amd64) → manifests, in docker v2 media
 * types (`docker`) or OCI ones as BuildKit writes by default.
 */
async function tinyLayout(
  file: string,
  types: 'docker' | 'oci' = 'docker'
): Promise<{ config: string; armConfig: string; layer: string; index: string }> {
  const blobs = new Map<string, Buffer>()
  const add = (data: Buffer | string): { digest: string; size: number } => {
    const b = Buffer.from(data)
    blobs.set(sha256(b), b)
    return { digest: sha256(b), size: b.length }
  }
  const mt =
    types === 'docker'
      ? {
          manifest: MediaType.dockerManifest,
          config: MediaType.dockerConfig,
          layer: MediaType.dockerLayerGzip
        }
      : {
          manifest: MediaType.ociManifest,
          config: MediaType.ociConfig,
          layer: MediaType.ociLayerGzip
        }
  const layer = add(Buffer.from('pretend this is a gzip layer'))
  const image = (arch: string) => {
    const config = add(JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['sh'] } }))
    const manifest = add(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: mt.manifest,
        config: { mediaType: mt.config, ...config },
        layers: [{ mediaType: mt.layer, ...layer }]
      })
    )
    return { config, manifest }
  }
  const amd = image('amd64')
  const arm = image('arm64')
  const index = add(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: mt.manifest,
          ...arm.manifest,
          platform: { os: 'linux', architecture: 'arm64' }
        },
        {
          mediaType: mt.manifest,
          ...amd.manifest,
          platform: { os: 'linux', architecture: 'amd64' }
        }
      ]
    })
  )
  const pack = tar.pack()
  const done = pipeline(pack as unknown as Readable, createWriteStream(file))
  for (const [digest, data] of blobs) pack.entry({ name: `blobs/sha256/${digest.slice(7)}` }, data)
  pack.entry({ name: 'oci-layout' }, '{"imageLayoutVersion":"1.0.0"}')
  pack.entry(
    { name: 'index.json' },
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.ociIndex, ...index }] })
  )
  pack.finalize()
  await done
  return {
    config: amd.config.digest,
    armConfig: arm.config.digest,
    layer: layer.digest,
    index: index.digest
  }
}

async function contents(file: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  await readTar(file, async (name, _size, stream) => {
    const parts: Buffer[] = []
    for await (const p of stream) parts.push(p as Buffer)
    files.set(name, Buffer.concat(parts))
  })
  return files
}

interface Entry {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
  platform?: { os: string; architecture: string }
}
const json = <T>(files: Map<string, Buffer>, digest: string): T =>
  JSON.parse(files.get(`blobs/sha256/${digest.slice(7)}`)!.toString()) as T

describe('repackOciArchive', () => {
  it('keeps the whole index, in OCI media types, named with ref.name', async () => {
    const source = join(dir, 'buildkit.tar')
    const { config, armConfig, layer } = await tinyLayout(source)
    const out = join(dir, 'web.BABCDEFGHIJ.tar')
    const result = await repackOciArchive(source, out, { refName: 'web.BABCDEFGHIJ' })
    expect(result).toMatchObject({
      mediaType: MediaType.ociIndex,
      platforms: ['linux/arm64', 'linux/amd64']
    })

    const files = await contents(out)
    const layout = JSON.parse(files.get('index.json')!.toString()) as { manifests: Entry[] }
    expect(layout.manifests).toHaveLength(1)
    const [entry] = layout.manifests
    expect(entry).toMatchObject({
      mediaType: MediaType.ociIndex,
      digest: result.manifestDigest,
      annotations: { 'org.opencontainers.image.ref.name': 'web.BABCDEFGHIJ' }
    })
    const index = json<{ mediaType: string; manifests: Entry[] }>(files, entry!.digest)
    expect(index.mediaType).toBe(MediaType.ociIndex)
    expect(index.manifests.map(m => [m.mediaType, m.platform?.architecture])).toEqual([
      [MediaType.ociManifest, 'arm64'],
      [MediaType.ociManifest, 'amd64']
    ])
    const manifests = index.manifests.map(m => {
      const bytes = files.get(`blobs/sha256/${m.digest.slice(7)}`)!
      expect(sha256(bytes)).toBe(m.digest)
      expect(bytes.length).toBe(m.size)
      return JSON.parse(bytes.toString()) as { mediaType: string; config: Entry; layers: Entry[] }
    })
    expect(manifests.map(m => m.config.digest)).toEqual([armConfig, config])
    for (const m of manifests) {
      expect(m.mediaType).toBe(MediaType.ociManifest)
      expect(m.config.mediaType).toBe(MediaType.ociConfig)
      expect(m.layers[0]).toMatchObject({ mediaType: MediaType.ociLayerGzip, digest: layer })
    }
    expect(result.configDigest).toBe(armConfig)
    // Only what the index needs: the layer shared by both platforms once.
    expect([...files.keys()].sort()).toEqual(
      [
        'oci-layout',
        'index.json',
        ...[entry!.digest, ...index.manifests.map(m => m.digest), config, armConfig, layer].map(
          d => `blobs/sha256/${d.slice(7)}`
        )
      ].sort()
    )
    const blobs = [...files].filter(([name]) => name.startsWith('blobs/'))
    expect(blobs.map(([, data]) => sha256(data))).toEqual(
      blobs.map(([name]) => `sha256:${name.slice(13)}`)
    )
  })

  it('keeps an OCI index byte for byte: the digest BuildKit reported', async () => {
    const source = join(dir, 'buildkit-oci.tar')
    const { index } = await tinyLayout(source, 'oci')
    const result = await repackOciArchive(source, join(dir, 'oci.tar'), { refName: 'x' })
    expect(result.manifestDigest).toBe(index)
    const files = await contents(join(dir, 'oci.tar'))
    expect(JSON.parse(files.get('index.json')!.toString()).manifests[0].digest).toBe(index)
  })

  it('keeps only the platforms asked for: one is a plain manifest; none is an error', async () => {
    const source = join(dir, 'buildkit2.tar')
    const { armConfig } = await tinyLayout(source, 'oci')
    const arm = await repackOciArchive(source, join(dir, 'arm.tar'), {
      refName: 'x',
      platforms: ['linux/arm64']
    })
    expect(arm).toMatchObject({ mediaType: MediaType.ociManifest, configDigest: armConfig })
    const files = await contents(join(dir, 'arm.tar'))
    expect(json<{ architecture: string }>(files, arm.configDigest).architecture).toBe('arm64')
    expect(files.size).toBe(5)
    const both = await repackOciArchive(source, join(dir, 'both.tar'), {
      refName: 'x',
      platforms: ['linux/amd64', 'linux/arm64']
    })
    expect(both.mediaType).toBe(MediaType.ociIndex)
    await expect(
      repackOciArchive(source, join(dir, 'none.tar'), { refName: 'x', platforms: ['linux/s390x'] })
    ).rejects.toThrow('has no linux/s390x image (it has linux/arm64, linux/amd64)')
  })
})

describe('writeExport / readExport', () => {
  it('writes build.json then one archive per service, flat, and reads them back', async () => {
    const source = join(dir, 'bk.tar')
    await tinyLayout(source)
    const record = buildRecord({
      id: 'BABCDEFGHIJ',
      app: 'a',
      started: new Date(0),
      ended: new Date(1)
    })
    const { path } = await writeExport(join(dir, 'x', 'out.tgz'), record, [
      { service: 'web', ociTar: source },
      { service: 'worker', ociTar: source }
    ])
    const got = await readExport(path, { extractTo: join(dir, 'ex') })
    expect(got.entries.map(e => e.name)).toEqual([
      'build.json',
      'web.BABCDEFGHIJ.tar',
      'worker.BABCDEFGHIJ.tar'
    ])
    expect(got.record).toEqual(record)
    expect(Object.keys(got.archives)).toEqual(['web', 'worker'])
  })
})
