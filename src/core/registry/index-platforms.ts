// Platforms of an image index: which manifest serves a platform, and which ones a list of
// platforms keeps (attestation manifests follow the images they describe).
import type { Descriptor, ManifestJson } from './client.js'

interface PlatformParts {
  os: string
  architecture: string
  variant?: string
}

/** `linux/amd64`, `linux/arm64/v8` → parts. */
export function parsePlatform(text: string): PlatformParts {
  const [os = '', architecture = '', variant] = text.split('/')
  return variant ? { os, architecture, variant } : { os, architecture }
}

/** `linux/arm64` (with `/variant` when there is one). */
export function formatPlatform(p: {
  os?: string
  architecture?: string
  variant?: string
}): string {
  return [p.os ?? '', p.architecture ?? '', ...(p.variant ? [p.variant] : [])].join('/')
}

const REFERENCE_TYPE = 'vnd.docker.reference.type'
const REFERENCE_DIGEST = 'vnd.docker.reference.digest'

/** An attestation manifest (buildx provenance/SBOM), not an image. */
function isAttestation(d: Descriptor): boolean {
  return d.annotations?.[REFERENCE_TYPE] === 'attestation-manifest' || d.platform?.os === 'unknown'
}

/** The image manifests of an index (attestations left out). */
export function imageManifests(index: ManifestJson): Descriptor[] {
  return (index.manifests ?? []).filter(m => !isAttestation(m))
}

/** arm64's only variant is v8: `linux/arm64` and `linux/arm64/v8` are the same platform. */
function variantOf(p: { architecture?: string; variant?: string }): string {
  const v = p.variant ?? ''
  return p.architecture === 'arm64' && v === 'v8' ? '' : v
}

/** True when two platform strings name the same platform (`linux/arm64` = `linux/arm64/v8`). */
export function samePlatform(a: string, b: string): boolean {
  const x = parsePlatform(a)
  const y = parsePlatform(b)
  return x.os === y.os && x.architecture === y.architecture && variantOf(x) === variantOf(y)
}

/** The manifest of `platform` among `images`: the same variant first, else any of the arch. */
function matchPlatform(images: Descriptor[], platform: string): Descriptor | undefined {
  const want = parsePlatform(platform)
  const matches = images.filter(
    m => m.platform?.os === want.os && m.platform?.architecture === want.architecture
  )
  return (
    matches.find(m => variantOf(m.platform ?? {}) === variantOf(want)) ??
    (want.variant ? undefined : matches[0])
  )
}

/**
 * Picks the manifest of a platform from an index, ignoring attestation manifests; an index of
 * one image gives that image whatever its platform (what a single-platform pull gets).
 */
export function selectPlatform(
  index: ManifestJson,
  platform = 'linux/amd64'
): Descriptor | undefined {
  const images = imageManifests(index)
  return matchPlatform(images, platform) ?? (images.length === 1 ? images[0] : undefined)
}

interface PickedPlatforms {
  /** Kept descriptors in the index's order: the images asked for and their attestations. */
  kept: Descriptor[]
  /** The kept image manifests (no attestations). */
  images: Descriptor[]
  /** Platforms asked for that the index does not have. */
  missing: string[]
  /** Every image platform of the index, for messages. */
  available: string[]
  /** True when nothing of the index was left out (it can be used as it is). */
  whole: boolean
}

/** The part of an index that serves `platforms`. */
export function pickPlatforms(index: ManifestJson, platforms: string[]): PickedPlatforms {
  const all = index.manifests ?? []
  const images = imageManifests(index)
  const chosen = new Set<string>()
  const missing: string[] = []
  for (const p of platforms) {
    const m = matchPlatform(images, p)
    if (m) chosen.add(m.digest)
    else missing.push(p)
  }
  const kept = all.filter(m =>
    isAttestation(m) ? chosen.has(m.annotations?.[REFERENCE_DIGEST] ?? '') : chosen.has(m.digest)
  )
  return {
    kept,
    images: kept.filter(m => !isAttestation(m)),
    missing,
    available: images.map(m => formatPlatform(m.platform ?? {})),
    whole: kept.length === all.length
  }
}

export interface ChosenPlatforms {
  /** Kept descriptors in the index's order (attestations with their images). */
  kept: Descriptor[]
  /** The kept image manifests (no attestations). */
  images: Descriptor[]
  /** Platforms asked for that the index does not have. */
  missing: string[]
  /** True when the index can be used as it is (no platforms asked for, or none left out). */
  whole: boolean
  /** The one image left when the index was cut down to it: used as its plain manifest. */
  single?: Descriptor
}

/**
 * What of an index serves `platforms` (empty: all of it). Throws, naming `what`, when it has none
 * of them.
 */
export function choosePlatforms(
  index: ManifestJson,
  platforms: string[],
  what: string
): ChosenPlatforms {
  if (platforms.length === 0) {
    return { kept: index.manifests ?? [], images: imageManifests(index), missing: [], whole: true }
  }
  const { kept, images, missing, available, whole } = pickPlatforms(index, platforms)
  if (images.length === 0) {
    throw new Error(
      `${what} has no ${platforms.join(' or ')} image (it has ${available.join(', ') || 'none'})`
    )
  }
  const single = !whole && images.length === 1 ? images[0] : undefined
  return { kept, images, missing, whole, single }
}
