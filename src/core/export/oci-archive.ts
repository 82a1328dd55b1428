// One OCI archive per service, the file `skopeo copy docker://... oci-archive:<file>` writes and
// the rack's import reads back with `skopeo copy oci-archive:<file> docker://...`.
//
// A multi-platform image is archived whole: index.json names the image index, whose manifests
// (every platform, or those asked for) are all in the archive, as the rack's export writes it
// since 3.25.3 (skopeo copy --all). Both ways of importing read it (checked with Debian 12's
// skopeo 1.9.3): `skopeo copy --all oci-archive:...` (the rack since 3.25.3) pushes the index
// with its digest unchanged, and `skopeo copy oci-archive:...` (older racks) pushes the one
// platform of the importing host. A single-platform image stays one plain manifest.
import { buffer } from 'node:stream/consumers'
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
import { choosePlatforms, formatPlatform } from '../registry/index-platforms.js'
import { formatReference, withDigest, type ImageReference } from '../registry/reference.js'

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name'
const OCI_LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' })

export interface ArchiveOptions {
  /** `org.opencontainers.image.ref.name` of the image, e.g. `web.BABCDEFGHIJ` (its tag). */
  refName: string
  /**
   * Only these platforms of a multi-platform image (empty or absent: all of them). When one is
   * left, the archive holds that platform's plain manifest.
   */
  platforms?: string[]
  signal?: AbortSignal
}

export interface ArchiveResult {
  /**
   * Digest of what index.json names: the index of a multi-platform image, else the manifest (OCI
   * media types: differs from a docker v2 source, the same as the source's otherwise).
   */
  manifestDigest: string
  mediaType: string
  /** Config of the image (of the first platform in an index). */
  configDigest: string
  /** Platforms of the images in the archive; empty for a plain manifest. */
  platforms: string[]
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

function indexJson(top: Descriptor, refName: string): string {
  return JSON.stringify({
    schemaVersion: 2,
    manifests: [
      {
        mediaType: top.mediaType,
        digest: top.digest,
        size: top.size,
        annotations: { [REF_NAME_ANNOTATION]: refName }
      }
    ]
  })
}

/** A manifest or index as read from its source, with the bytes its digest covers. */
interface SourceManifest {
  bytes: Buffer
  mediaType: string
  json: ManifestJson
}

/** Everything an archive holds: index.json's entry, the manifests (small), the blobs to copy. */
interface ArchiveContent {
  top: Descriptor
  /** Index and manifests by digest, exactly as written. */
  manifests: Map<string, Buffer>
  /** Configs and layers (foreign layers left out), each once. */
  blobs: Descriptor[]
  configDigest: string
  platforms: string[]
}

/** A manifest in OCI media types (converted from docker v2 when needed). */
function ociManifest(source: SourceManifest): { bytes: Buffer; json: ManifestJson } {
  const { json, converted } = toOciManifest({ ...source.json, mediaType: source.mediaType })
  return { bytes: converted ? Buffer.from(JSON.stringify(json)) : source.bytes, json }
}

/**
 * What to archive of an image: a plain manifest as it is (in OCI media types), an index with its
 * platforms (all, or `platforms`): byte for byte when nothing had to change, else a new OCI index
 * of the kept manifests. `fetch` reads a manifest of the index by digest.
 */
async function archiveContent(
  source: SourceManifest,
  fetch: (digest: string) => Promise<SourceManifest>,
  platforms: string[],
  what: string
): Promise<ArchiveContent> {
  const manifests = new Map<string, Buffer>()
  const blobs = new Map<string, Descriptor>()
  const addImage = (json: ManifestJson): string => {
    const config = json.config
    if (!config) throw new Error(`${what}: manifest without a config`)
    for (const b of [config, ...(json.layers ?? []).filter(l => !l.urls?.length)]) {
      if (!blobs.has(b.digest)) blobs.set(b.digest, b)
    }
    return config.digest
  }
  const plain = (m: SourceManifest): ArchiveContent => {
    const { bytes, json } = ociManifest(m)
    const digest = sha256(bytes)
    manifests.set(digest, bytes)
    const configDigest = addImage(json)
    const top = { mediaType: MediaType.ociManifest, digest, size: bytes.length }
    return { top, manifests, blobs: [...blobs.values()], configDigest, platforms: [] }
  }
  if (!isIndexMediaType(source.mediaType)) return plain(source)

  const chosen = choosePlatforms(source.json, platforms, what)
  if (chosen.single) return plain(await fetch(chosen.single.digest))
  const { kept, images } = chosen
  let changed = source.mediaType !== MediaType.ociIndex || !chosen.whole
  const descriptors: Descriptor[] = []
  let configDigest = ''
  for (const d of kept) {
    const child = await fetch(d.digest)
    if (isIndexMediaType(child.mediaType)) throw new Error(`${what}: an index inside an index`)
    const { bytes, json } = ociManifest(child)
    const digest = sha256(bytes)
    if (digest !== d.digest || d.mediaType !== MediaType.ociManifest) changed = true
    manifests.set(digest, bytes)
    const config = addImage(json)
    if (!configDigest && images.includes(d)) configDigest = config
    descriptors.push({ ...d, mediaType: MediaType.ociManifest, digest, size: bytes.length })
  }
  const index: ManifestJson = { schemaVersion: 2, mediaType: MediaType.ociIndex }
  index.manifests = descriptors
  if (source.json.annotations) index.annotations = source.json.annotations
  const bytes = changed ? Buffer.from(JSON.stringify(index)) : source.bytes
  const digest = sha256(bytes)
  manifests.set(digest, bytes)
  return {
    top: { mediaType: MediaType.ociIndex, digest, size: bytes.length },
    manifests,
    blobs: [...blobs.values()],
    configDigest,
    platforms: images.map(d => formatPlatform(d.platform ?? {}))
  }
}

/** Writes index.json and the manifests of `content`; the blobs are the caller's. */
async function startArchive(w: LayoutWriter, content: ArchiveContent, refName: string) {
  await w.start(indexJson(content.top, refName))
  for (const [digest, bytes] of content.manifests) await w.addBlobBytes(digest, bytes)
}

function archiveResult(content: ArchiveContent, writer: LayoutWriter): ArchiveResult {
  return {
    manifestDigest: content.top.digest,
    mediaType: content.top.mediaType,
    configDigest: content.configDigest,
    platforms: content.platforms,
    blobBytes: writer.blobBytes
  }
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
  await packInto(writer.pack, [createWriteStream(file, { mode: 0o644 })], signal, () =>
    produce(writer)
  )
  return writer
}

/**
 * Runs `produce` (which adds the entries) while `pack` streams through `sink`, then finishes the
 * tar; fails if either side fails.
 */
export async function packInto(
  pack: tar.Pack,
  sink: NodeJS.WritableStream[],
  signal: AbortSignal | undefined,
  produce: () => Promise<void>
): Promise<void> {
  // Handled at once: the sink may fail (ENOSPC, a signal) while produce is still waiting on the
  // network; when it failed first, its error is the cause of produce's.
  let sinkFailure: Error | undefined
  const sunk = pipeline([pack as unknown as Readable, ...sink], { signal }).catch((e: unknown) => {
    sinkFailure ??= e as Error
  })
  try {
    await produce()
    pack.finalize()
  } catch (e) {
    const cause = sinkFailure ?? e
    pack.destroy(e as Error)
    await sunk
    throw cause
  }
  await sunk
  if (sinkFailure) throw sinkFailure
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
  const what = `image ${formatReference(ref)}`
  const content = await archiveContent(
    await client.getManifest(ref),
    digest => client.getManifest(withDigest(ref, digest)),
    options.platforms ?? [],
    what
  )
  const writer = await writeTo(file, options.signal, async w => {
    await startArchive(w, content, options.refName)
    for (const blob of content.blobs) {
      if (w.has(blob.digest)) continue
      const { stream } = await client.getBlob(ref, blob.digest)
      try {
        await w.addBlobStream(blob.digest, blob.size, stream, options.signal)
      } catch (e) {
        throw new Error(`${what}: ${(e as Error).message}`, { cause: e })
      }
    }
  })
  return archiveResult(content, writer)
}

const SMALL_BLOB = 4 * 1024 * 1024

/**
 * Re-packs the OCI tar BuildKit wrote (`--output type=oci,dest=...`) into an archive skopeo reads:
 * the image (an index for a multi-platform build) named with the ref.name annotation. Two
 * streaming passes over the file: the first reads index.json and the small JSON blobs, the second
 * copies the blobs needed.
 */
export async function repackOciArchive(
  sourceTar: string,
  file: string,
  options: ArchiveOptions
): Promise<ArchiveResult> {
  let layout: ManifestJson | undefined
  const small = new Map<string, Buffer>()
  const sizes = new Map<string, number>()
  await readTar(sourceTar, async (name, size, stream) => {
    if (name === 'index.json') layout = JSON.parse((await buffer(stream)).toString('utf8'))
    else if (name.startsWith('blobs/sha256/')) {
      const digest = `sha256:${name.slice('blobs/sha256/'.length)}`
      sizes.set(digest, size)
      if (size <= SMALL_BLOB) small.set(digest, await buffer(stream))
    }
  })
  if (!layout) throw new Error(`${sourceTar}: not an OCI layout (no index.json)`)
  const read = (digest: string, mediaType?: string): SourceManifest => {
    const bytes = small.get(digest)
    if (!bytes) throw new Error(`${sourceTar}: blob ${digest} is missing`)
    const json = JSON.parse(bytes.toString('utf8')) as ManifestJson
    const type =
      json.mediaType ?? mediaType ?? (json.manifests ? MediaType.ociIndex : MediaType.ociManifest)
    return { bytes, mediaType: type, json }
  }
  // index.json names the image (BuildKit writes one entry); several entries are read as an index.
  const entries = layout.manifests ?? []
  const top: SourceManifest =
    entries.length === 1
      ? read(entries[0]!.digest, entries[0]!.mediaType)
      : {
          bytes: Buffer.from(JSON.stringify({ ...layout, mediaType: MediaType.ociIndex })),
          mediaType: MediaType.ociIndex,
          json: layout
        }
  const mediaTypes = new Map((top.json.manifests ?? []).map(d => [d.digest, d.mediaType]))
  const content = await archiveContent(
    top,
    async digest => read(digest, mediaTypes.get(digest)),
    options.platforms ?? [],
    sourceTar
  )
  const needed = new Set(content.blobs.map(b => b.digest))
  for (const digest of needed) {
    if (!sizes.has(digest)) throw new Error(`${sourceTar}: blob ${digest} is missing`)
  }
  const writer = await writeTo(file, options.signal, async w => {
    await startArchive(w, content, options.refName)
    await readTar(sourceTar, async (name, size, stream) => {
      const digest = `sha256:${name.slice('blobs/sha256/'.length)}`
      if (name.startsWith('blobs/sha256/') && needed.has(digest) && !w.has(digest)) {
        await w.addBlobStream(digest, size, stream, options.signal)
      }
    })
  })
  return archiveResult(content, writer)
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
