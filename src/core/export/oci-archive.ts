// One OCI archive per service, the file `skopeo copy docker://... oci-archive:<file>` writes and
// the rack's import reads back with `skopeo copy oci-archive:<file> docker://...`.
//
// Multi-platform images: like the rack's own export (skopeo without --all), an archive holds ONE
// image: the manifest for `platform` (default linux/amd64, or the only platform there is). An
// index nested in index.json is only readable by recent skopeo versions, and the rack ignores a
// failed import, so we never write one.
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import * as tar from 'tar-stream'
import {
  isIndexMediaType,
  MediaType,
  sha256,
  type Descriptor,
  type ManifestJson,
  type RegistryClient
} from '../registry/client.js'
import { selectPlatform } from '../registry/image-config.js'
import { formatReference, withDigest, type ImageReference } from '../registry/reference.js'

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name'
const OCI_LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' })

export interface ArchiveOptions {
  /** `org.opencontainers.image.ref.name` of the image, e.g. `web.BABCDEFGHIJ` (its tag). */
  refName: string
  /** Platform picked from a multi-platform image. Default linux/amd64. */
  platform?: string
  signal?: AbortSignal
}

export interface ArchiveResult {
  /** Digest of the manifest in the archive (OCI media types; differs from a docker v2 source). */
  manifestDigest: string
  configDigest: string
  /** Bytes of blob content written. */
  blobBytes: number
}

/** The manifest with docker v2 media types turned into OCI ones, as skopeo does for oci layouts. */
export function toOciManifest(manifest: ManifestJson): { json: ManifestJson; converted: boolean } {
  const mt = manifest.mediaType ?? MediaType.ociManifest
  if (mt === MediaType.ociManifest) return { json: manifest, converted: false }
  if (mt !== MediaType.dockerManifest) throw new Error(`cannot archive a manifest of type ${mt}`)
  const layerType = (t: string): string => {
    switch (t) {
      case MediaType.dockerLayerGzip:
        return MediaType.ociLayerGzip
      case MediaType.dockerForeignLayerGzip:
        return 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'
      case 'application/vnd.docker.image.rootfs.diff.tar':
        return MediaType.ociLayer
      default:
        return t
    }
  }
  const config = manifest.config
  if (!config) throw new Error('manifest without a config')
  const json: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { ...config, mediaType: MediaType.ociConfig },
    layers: (manifest.layers ?? []).map(l => ({ ...l, mediaType: layerType(l.mediaType) }))
  }
  if (manifest.annotations) json.annotations = manifest.annotations
  return { json, converted: true }
}

function indexJson(manifest: Descriptor, refName: string): string {
  return JSON.stringify({
    schemaVersion: 2,
    manifests: [
      {
        mediaType: MediaType.ociManifest,
        digest: manifest.digest,
        size: manifest.size,
        annotations: { [REF_NAME_ANNOTATION]: refName }
      }
    ]
  })
}

/** Writes the layout's fixed entries; blobs go in with addBlob. */
class LayoutWriter {
  readonly pack = tar.pack()
  private readonly written = new Set<string>()
  blobBytes = 0

  async start(index: string): Promise<void> {
    await this.add('oci-layout', Buffer.from(OCI_LAYOUT))
    await this.add('index.json', Buffer.from(index))
    this.pack.entry({ name: 'blobs/', type: 'directory', mode: 0o755 })
    this.pack.entry({ name: 'blobs/sha256/', type: 'directory', mode: 0o755 })
  }

  has(digest: string): boolean {
    return this.written.has(digest)
  }

  async add(name: string, data: Buffer): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.pack.entry({ name, size: data.length, mode: 0o644 }, data, err =>
        err ? reject(err) : resolve()
      )
    )
  }

  async addBlobBytes(digest: string, data: Buffer): Promise<void> {
    if (this.written.has(digest)) return
    if (sha256(data) !== digest) throw new Error(`blob ${digest}: content does not match`)
    this.written.add(digest)
    this.blobBytes += data.length
    await this.add(blobPath(digest), data)
  }

  /**
   * Streams a blob into the archive, checking its size and digest on the way. Any failure of
   * either side (a reset or short layer stream, the archive's file, a cancel) is this call's
   * rejection, never an 'error' event or a rejection nobody awaits.
   */
  async addBlobStream(
    digest: string,
    size: number,
    source: Readable,
    signal?: AbortSignal
  ): Promise<void> {
    if (this.written.has(digest)) {
      source.destroy()
      return
    }
    this.written.add(digest)
    let entry!: NodeJS.WritableStream & { destroy(e?: Error): void }
    const done = new Promise<void>((resolve, reject) => {
      entry = this.pack.entry({ name: blobPath(digest), size, mode: 0o644 }, err =>
        err ? reject(err) : resolve()
      ) as typeof entry
    })
    done.catch(() => undefined)
    entry.on('error', () => undefined)
    const onAbort = (): void => void source.destroy(signal?.reason as Error)
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const hash = createHash('sha256')
      let seen = 0
      for await (const chunk of source) {
        const buf = chunk as Buffer
        hash.update(buf)
        seen += buf.length
        if (seen > size) throw new Error(`blob ${digest}: longer than ${size} bytes`)
        if (!entry.write(buf)) await once(entry, 'drain')
      }
      signal?.throwIfAborted()
      if (seen !== size) throw new Error(`blob ${digest}: ${seen} bytes instead of ${size}`)
      if (`sha256:${hash.digest('hex')}` !== digest) {
        throw new Error(`blob ${digest}: content does not match its digest`)
      }
      entry.end()
      await done
    } catch (e) {
      source.destroy()
      entry.destroy(e as Error)
      throw e
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    this.blobBytes += size
  }
}

function blobPath(digest: string): string {
  const [algorithm, hex] = digest.split(':')
  if (algorithm !== 'sha256' || !hex || !/^[0-9a-f]{64}$/.test(hex)) {
    throw new Error(`unsupported digest ${digest}`)
  }
  return `blobs/sha256/${hex}`
}

/** Runs `produce` while the archive streams to `file`; fails if either side fails. */
async function writeTo(
  file: string,
  signal: AbortSignal | undefined,
  produce: (writer: LayoutWriter) => Promise<void>
): Promise<LayoutWriter> {
  const writer = new LayoutWriter()
  // Handled at once: the file may fail (ENOSPC) while produce is still waiting on the network;
  // when it failed first, its error is the cause of produce's.
  let sinkFailure: Error | undefined
  const sunk = pipeline(
    writer.pack as unknown as Readable,
    createWriteStream(file, { mode: 0o644 }),
    { signal }
  ).catch((e: unknown) => {
    sinkFailure ??= e as Error
  })
  try {
    await produce(writer)
    writer.pack.finalize()
  } catch (e) {
    const cause = sinkFailure ?? e
    writer.pack.destroy(e as Error)
    await sunk
    throw cause
  }
  await sunk
  if (sinkFailure) throw sinkFailure
  return writer
}

/**
 * Writes an OCI archive of a registry image, streaming every blob from the registry straight into
 * the tar: memory stays flat whatever the image's size.
 */
export async function writeArchiveFromRegistry(
  client: RegistryClient,
  ref: ImageReference,
  file: string,
  options: ArchiveOptions
): Promise<ArchiveResult> {
  const top = await client.getManifest(ref)
  let source = top
  if (isIndexMediaType(top.mediaType)) {
    const platform = options.platform ?? 'linux/amd64'
    const chosen = selectPlatform(top.json, platform)
    if (!chosen) throw new Error(`image ${formatReference(ref)} has no ${platform} image`)
    source = await client.getManifest(withDigest(ref, chosen.digest))
  }
  const { json, converted } = toOciManifest({ ...source.json, mediaType: source.mediaType })
  const bytes = converted ? Buffer.from(JSON.stringify(json)) : source.bytes
  const manifest: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: converted ? sha256(bytes) : source.digest,
    size: bytes.length
  }
  const config = json.config as Descriptor
  const writer = await writeTo(file, options.signal, async w => {
    await w.start(indexJson(manifest, options.refName))
    await w.addBlobBytes(manifest.digest, bytes)
    for (const blob of [config, ...(json.layers ?? []).filter(l => !l.urls?.length)]) {
      if (w.has(blob.digest)) continue
      const { stream } = await client.getBlob(ref, blob.digest)
      try {
        await w.addBlobStream(blob.digest, blob.size, stream, options.signal)
      } catch (e) {
        throw new Error(`image ${formatReference(ref)}: ${(e as Error).message}`, { cause: e })
      }
    }
  })
  return {
    manifestDigest: manifest.digest,
    configDigest: config.digest,
    blobBytes: writer.blobBytes
  }
}

const SMALL_BLOB = 4 * 1024 * 1024

/**
 * Re-packs the OCI tar BuildKit wrote (`--output type=oci,dest=...`) into an archive skopeo reads:
 * one image (the platform's), named with the ref.name annotation. Two streaming passes over the
 * file: the first reads index.json and the small JSON blobs, the second copies the blobs needed.
 */
export async function repackOciArchive(
  sourceTar: string,
  file: string,
  options: ArchiveOptions
): Promise<ArchiveResult> {
  let index: ManifestJson | undefined
  const small = new Map<string, Buffer>()
  const sizes = new Map<string, number>()
  await readTar(sourceTar, async (name, size, stream) => {
    if (name === 'index.json') index = JSON.parse((await readAll(stream)).toString('utf8'))
    else if (name.startsWith('blobs/sha256/')) {
      const digest = `sha256:${name.slice('blobs/sha256/'.length)}`
      sizes.set(digest, size)
      if (size <= SMALL_BLOB) small.set(digest, await readAll(stream))
    }
  })
  if (!index) throw new Error(`${sourceTar}: not an OCI layout (no index.json)`)
  const json = (digest: string): ManifestJson => {
    const data = small.get(digest)
    if (!data) throw new Error(`${sourceTar}: blob ${digest} is missing`)
    return JSON.parse(data.toString('utf8')) as ManifestJson
  }
  // Walk down nested indexes to the platform's image manifest.
  let current: ManifestJson = index
  let chosen: Descriptor | undefined
  for (let depth = 0; depth < 4; depth++) {
    const candidates = current.manifests ?? []
    const pick =
      candidates.length === 1
        ? candidates[0]
        : selectPlatform(current, options.platform ?? 'linux/amd64')
    if (!pick) throw new Error(`${sourceTar}: no ${options.platform ?? 'linux/amd64'} image in it`)
    if (isIndexMediaType(pick.mediaType)) {
      current = json(pick.digest)
      continue
    }
    chosen = pick
    break
  }
  if (!chosen) throw new Error(`${sourceTar}: indexes nested too deep`)
  const original = json(chosen.digest)
  const { json: manifestJson, converted } = toOciManifest({
    ...original,
    mediaType: original.mediaType ?? chosen.mediaType
  })
  const bytes = converted
    ? Buffer.from(JSON.stringify(manifestJson))
    : (small.get(chosen.digest) as Buffer)
  const manifest: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: sha256(bytes),
    size: bytes.length
  }
  const config = manifestJson.config as Descriptor
  const needed = new Set([config.digest, ...(manifestJson.layers ?? []).map(l => l.digest)])
  for (const digest of needed) {
    if (!sizes.has(digest)) throw new Error(`${sourceTar}: blob ${digest} is missing`)
  }
  const writer = await writeTo(file, options.signal, async w => {
    await w.start(indexJson(manifest, options.refName))
    await w.addBlobBytes(manifest.digest, bytes)
    await readTar(sourceTar, async (name, size, stream) => {
      const digest = `sha256:${name.slice('blobs/sha256/'.length)}`
      if (name.startsWith('blobs/sha256/') && needed.has(digest)) {
        await w.addBlobStream(digest, size, stream, options.signal)
      }
    })
  })
  return {
    manifestDigest: manifest.digest,
    configDigest: config.digest,
    blobBytes: writer.blobBytes
  }
}

/** Calls onEntry for each regular file of a tar (streamed; unread content is skipped). */
export async function readTar(
  file: string,
  onEntry: (name: string, size: number, stream: Readable) => Promise<void>
): Promise<void> {
  const extract = tar.extract()
  const input = createReadStream(file)
  const feeding = pipeline(input, extract as unknown as NodeJS.WritableStream).catch(e => {
    extract.destroy(e as Error)
  })
  for await (const entry of extract) {
    const name = entry.header.name.replace(/^\.\//, '')
    if (entry.header.type === 'file') {
      await onEntry(name, entry.header.size ?? 0, entry as unknown as Readable)
    }
    entry.resume()
  }
  await feeding
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of stream) parts.push(part as Buffer)
  return Buffer.concat(parts)
}
