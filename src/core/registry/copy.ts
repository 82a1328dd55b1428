import type { Logger } from '../log.js'
import { forEachLimit } from '../pool.js'
import {
  isIndexMediaType,
  type Descriptor,
  type FetchedManifest,
  type RegistryClient
} from './client.js'
import {
  formatReference,
  withDigest,
  type ImageReference,
  type RepositoryName
} from './reference.js'

export interface CopyResult {
  /** Digest of the manifest (or index) pushed under the target tag: the source's own digest. */
  digest: string
  mediaType: string
  /** Blobs by how they got there. */
  uploaded: number
  mounted: number
  existing: number
}

export interface CopyOptions {
  logger?: Logger
  /** Blobs copied at once per manifest. Default 3. */
  concurrency?: number
}

/**
 * Copies an image registry to registry: an index with every platform, or a single manifest.
 * Blobs are mounted when both sides are on the same registry, else streamed through (constant
 * memory). The manifests are pushed byte for byte, so the digest stays the source's.
 */
export async function copyImage(
  client: RegistryClient,
  from: ImageReference,
  to: ImageReference,
  options: CopyOptions = {}
): Promise<CopyResult> {
  const result: CopyResult = { digest: '', mediaType: '', uploaded: 0, mounted: 0, existing: 0 }
  const top = await client.getManifest(from)
  await copyTree(client, from, to, top, options, result)
  result.digest = await client.putManifest(to, top.bytes, top.mediaType)
  result.mediaType = top.mediaType
  options.logger?.debug(
    `copied ${formatReference(from)} to ${formatReference(to)} (${result.digest}): ` +
      `${result.uploaded} uploaded, ${result.mounted} mounted, ${result.existing} present`
  )
  return result
}

/** Copies everything a manifest references (children of an index, then their blobs). */
async function copyTree(
  client: RegistryClient,
  from: RepositoryName,
  to: RepositoryName,
  manifest: FetchedManifest,
  options: CopyOptions,
  result: CopyResult
): Promise<void> {
  if (isIndexMediaType(manifest.mediaType)) {
    for (const child of manifest.json.manifests ?? []) {
      const fetched = await client.getManifest(withDigest(from, child.digest))
      await copyTree(client, from, to, fetched, options, result)
      await client.putManifest(withDigest(to, child.digest), fetched.bytes, fetched.mediaType)
    }
    return
  }
  const blobs: Descriptor[] = []
  if (manifest.json.config) blobs.push(manifest.json.config)
  // Foreign layers (with `urls`) are not in the registry; the manifest points elsewhere.
  for (const layer of manifest.json.layers ?? []) if (!layer.urls?.length) blobs.push(layer)
  await forEachLimit(blobs, options.concurrency ?? 3, async blob => {
    const how = await client.uploadBlob(
      to,
      blob,
      async () => (await client.getBlob(from, blob.digest)).stream,
      { mountFrom: from }
    )
    result[how === 'exists' ? 'existing' : how]++
  })
}
