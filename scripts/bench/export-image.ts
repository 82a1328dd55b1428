// Helpers of the export benchmark: a large image made of incompressible layers, generated from a
// seed (AES-CTR keystream) so it can be hashed and then uploaded without touching the disk.
import { createCipheriv, createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { MediaType, sha256, type RegistryClient } from '../../src/core/registry/client.js'
import type { ImageReference } from '../../src/core/registry/reference.js'

const BLOCK = 1024 * 1024

/** An uncompressed tar holding one file of `size` pseudo-random bytes. */
function layer(seed: number, size: number): Readable {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0))
  const header = Buffer.alloc(512, 0)
  const field = (offset: number, length: number, value: string): void => {
    header.write(value, offset, length, 'ascii')
  }
  field(0, 100, `random-${seed}.bin`)
  field(100, 8, '0000644\0')
  field(108, 8, '0000000\0')
  field(116, 8, '0000000\0')
  field(124, 12, `${size.toString(8).padStart(11, '0')}\0`)
  field(136, 12, '00000000000\0')
  field(156, 1, '0')
  field(257, 6, 'ustar\0')
  field(263, 2, '00')
  header.fill(' ', 148, 156)
  let sum = 0
  for (const b of header) sum += b
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `)
  const padding = (512 - (size % 512)) % 512
  const zeros = Buffer.alloc(BLOCK, 0)
  return Readable.from(
    (function* () {
      yield header
      for (let left = size; left > 0; left -= BLOCK) {
        yield cipher.update(left >= BLOCK ? zeros : zeros.subarray(0, left))
      }
      yield Buffer.alloc(padding + 1024, 0)
    })()
  )
}

async function digestOf(stream: Readable): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of stream) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { digest: `sha256:${hash.digest('hex')}`, size }
}

/** Pushes an image of `layers` × `layerSize` random bytes; returns the manifest digest. */
export async function pushLargeImage(
  client: RegistryClient,
  ref: ImageReference,
  layers: number,
  layerSize: number
): Promise<string> {
  const descriptors = []
  for (let i = 0; i < layers; i++) {
    const { digest, size } = await digestOf(layer(i + 1, layerSize))
    await client.uploadBlob(ref, { digest, size }, () => layer(i + 1, layerSize))
    descriptors.push({ mediaType: MediaType.ociLayer, digest, size })
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: descriptors.map(d => d.digest) }
    })
  )
  const configDigest = sha256(config)
  await client.uploadBlob(ref, { digest: configDigest, size: config.length }, () =>
    Readable.from([config])
  )
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configDigest, size: config.length },
      layers: descriptors
    })
  )
  return client.putManifest(ref, manifest, MediaType.ociManifest)
}
