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

/** A BuildKit-like OCI tar: index.json → index (amd64 + arm64) → docker v2 manifests. */
async function tinyLayout(file: string): Promise<{ config: string; layer: string }> {
  const blobs = new Map<string, Buffer>()
  const add = (data: Buffer | string): { digest: string; size: number } => {
    const b = Buffer.from(data)
    blobs.set(sha256(b), b)
    return { digest: sha256(b), size: b.length }
  }
  const layer = add(Buffer.from('pretend this is a gzip layer'))
  const image = (arch: string) => {
    const config = add(JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['sh'] } }))
    const manifest = add(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: { mediaType: MediaType.dockerConfig, ...config },
        layers: [{ mediaType: MediaType.dockerLayerGzip, ...layer }]
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
          mediaType: MediaType.dockerManifest,
          ...arm.manifest,
          platform: { os: 'linux', architecture: 'arm64' }
        },
        {
          mediaType: MediaType.dockerManifest,
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
  return { config: amd.config.digest, layer: layer.digest }
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

describe('repackOciArchive', () => {
  it('keeps one platform image, in OCI media types, named with ref.name', async () => {
    const source = join(dir, 'buildkit.tar')
    const { config, layer } = await tinyLayout(source)
    const out = join(dir, 'web.BABCDEFGHIJ.tar')
    const result = await repackOciArchive(source, out, { refName: 'web.BABCDEFGHIJ' })
    expect(result.configDigest).toBe(config)

    const files = await contents(out)
    const index = JSON.parse(files.get('index.json')!.toString()) as {
      manifests: {
        mediaType: string
        digest: string
        size: number
        annotations: Record<string, string>
      }[]
    }
    expect(index.manifests).toHaveLength(1)
    const [entry] = index.manifests
    expect(entry).toMatchObject({
      mediaType: MediaType.ociManifest,
      digest: result.manifestDigest,
      annotations: { 'org.opencontainers.image.ref.name': 'web.BABCDEFGHIJ' }
    })
    const manifestBytes = files.get(`blobs/sha256/${entry!.digest.slice(7)}`)!
    expect(sha256(manifestBytes)).toBe(entry!.digest)
    expect(manifestBytes.length).toBe(entry!.size)
    const manifest = JSON.parse(manifestBytes.toString())
    expect(manifest.mediaType).toBe(MediaType.ociManifest)
    expect(manifest.config).toMatchObject({ mediaType: MediaType.ociConfig, digest: config })
    expect(manifest.layers[0]).toMatchObject({ mediaType: MediaType.ociLayerGzip, digest: layer })
    // Only what the image needs: oci-layout, index.json, manifest, config, layer.
    expect([...files.keys()].sort()).toEqual(
      [
        'oci-layout',
        'index.json',
        ...[entry!.digest, config, layer].map(d => `blobs/sha256/${d.slice(7)}`)
      ].sort()
    )
    const blobs = [...files].filter(([name]) => name.startsWith('blobs/'))
    expect(blobs.map(([, data]) => sha256(data))).toEqual(
      blobs.map(([name]) => `sha256:${name.slice(13)}`)
    )
  })

  it('picks another platform on request and fails clearly for a missing one', async () => {
    const source = join(dir, 'buildkit2.tar')
    await tinyLayout(source)
    const arm = await repackOciArchive(source, join(dir, 'arm.tar'), {
      refName: 'x',
      platform: 'linux/arm64'
    })
    const files = await contents(join(dir, 'arm.tar'))
    expect(
      JSON.parse(files.get(`blobs/sha256/${arm.configDigest.slice(7)}`)!.toString()).architecture
    ).toBe('arm64')
    await expect(
      repackOciArchive(source, join(dir, 'none.tar'), { refName: 'x', platform: 'linux/s390x' })
    ).rejects.toThrow('no linux/s390x image')
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
