import type { Logger } from '../log.js'
import { forEachLimit } from '../pool.js'
import {
  isIndexMediaType,
  type Descriptor,
  type FetchedManifest,
  type RegistryClient
} from './client.js'
import { readConfigBlob } from './image-config.js'
import { choosePlatforms, formatPlatform, samePlatform } from './index-platforms.js'
import {
  formatReference,
  withDigest,
  type ImageReference,
  type RepositoryName
} from './reference.js'

export interface CopyResult {
  /**
   * Digest of the manifest (or index) pushed under the target tag: the source's own digest,
   * unless platforms were left out (then a new index, or the one platform's manifest).
   */
  digest: string
  mediaType: string
  /** Platforms copied (`linux/amd64`, ...); empty when the source does not say. */
  platforms: string[]
  /** Platforms asked for that the source does not have. */
  missing: string[]
  /** Blobs by how they got there. */
  uploaded: number
  mounted: number
  existing: number
}

export interface CopyOptions {
  logger?: Logger
  /** Blobs copied at once per manifest. Default 3. */
  concurrency?: number
  /**
   * Only these platforms of an index (empty or absent: every platform, the index unchanged).
   * One platform left is copied as its plain manifest, as a single-platform build is pushed.
   */
  platforms?: string[]
}

/**
 * Copies an image registry to registry: an index with every platform (or those asked for), or a
 * single manifest. Blobs are mounted when both sides are on the same registry, else streamed
 * through (constant memory). Manifests are pushed byte for byte, so an image copied whole keeps
 * the source's digest.
 */
export async function copyImage(
  client: RegistryClient,
  from: ImageReference,
  to: ImageReference,
  options: CopyOptions = {}
): Promise<CopyResult> {
  const result: CopyResult = {
    digest: '',
    mediaType: '',
    platforms: [],
    missing: [],
    uploaded: 0,
    mounted: 0,
    existing: 0
  }
  const wanted = options.platforms ?? []
  let top = await client.getManifest(from)
  if (isIndexMediaType(top.mediaType)) {
    const chosen = choosePlatforms(top.json, wanted, formatReference(from))
    result.missing = chosen.missing
    result.platforms = chosen.images.map(d => formatPlatform(d.platform ?? {}))
    if (chosen.single) top = await client.getManifest(withDigest(from, chosen.single.digest))
    else if (!chosen.whole) top = subIndex(top, chosen.kept)
  }
  await copyTree(client, from, to, top, options, result)
  if (!isIndexMediaType(top.mediaType) && result.platforms.length === 0 && wanted.length > 0) {
    // A single-platform image: its config says which platform it is.
    const platform = await configPlatform(client, from, top)
    if (platform) {
      result.platforms = [platform]
      result.missing = wanted.filter(p => !samePlatform(p, platform))
    }
  }
  result.digest = await client.putManifest(to, top.bytes, top.mediaType)
  result.mediaType = top.mediaType
  options.logger?.debug(
    `copied ${formatReference(from)} to ${formatReference(to)} (${result.digest}): ` +
      `${result.uploaded} uploaded, ${result.mounted} mounted, ${result.existing} present`
  )
  return result
}

/** The index with only `kept` of its manifests (its other fields as they were). */
function subIndex(index: FetchedManifest, kept: Descriptor[]): FetchedManifest {
  const json = { ...index.json, manifests: kept }
  const bytes = Buffer.from(JSON.stringify(json))
  return { bytes, mediaType: index.mediaType, digest: '', json }
}

/** `os/architecture[/variant]` from an image's config blob ('' when it has none). */
async function configPlatform(
  client: RegistryClient,
  repo: RepositoryName,
  manifest: FetchedManifest
): Promise<string> {
  const config = manifest.json.config
  if (!config) return ''
  const c = (await readConfigBlob(client, repo, config.digest)) as {
    os?: string
    architecture?: string
    variant?: string
  }
  return c.os && c.architecture ? formatPlatform(c) : ''
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
