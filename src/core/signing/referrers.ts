// Artifacts attached to an image where OCI 1.1 tools look for them: a manifest whose `subject` is
// the image, found through the registry's referrers API, or, where the registry has none (its
// manifest PUT answers no `OCI-Subject`), through the distribution spec's referrers tag schema: the
// tag `sha256-<hex>` holding an OCI index of the image's referrers, which we keep up to date.
// Bundles are written as cosign's `--new-bundle-format` writes them (cosign's pkg/oci/remote
// WriteAttestationNewBundleFormat and WriteReferrer), so `cosign verify-attestation` finds them.
import { UserError } from '../errors.js'
import type { Logger } from '../log.js'
import {
  MediaType,
  sha256,
  type Descriptor,
  type ManifestJson,
  type RegistryClient
} from '../registry/client.js'
import type { RepositoryName } from '../registry/reference.js'
import { oneLine } from '../trust.js'
import { SIGSTORE_BUNDLE_V03 } from './bundle.js'
import { upload } from './cosign-tags.js'

/** The OCI empty descriptor's media type: an artifact manifest's config (its bytes are `{}`). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json'
/** Referrers kept in a fallback index: the oldest are dropped first (a bounded index). */
export const MAX_REFERRERS = 64
/** A fallback index's entry larger than this (a hostile annotation) is dropped. */
const MAX_ENTRY_BYTES = 4096

export interface ReferrerArtifact {
  artifactType: string
  /** The one layer's media type and bytes. */
  mediaType: string
  bytes: Buffer
  annotations: Record<string, string>
}

/** The referrers tag schema's tag for the image `digest`: `sha256-<hex>`. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-')
}

/** The artifact of a Sigstore bundle of an attestation, annotated as cosign annotates it. */
export function bundleArtifact(bundle: Buffer, predicateType: string): ReferrerArtifact {
  return {
    artifactType: SIGSTORE_BUNDLE_V03,
    mediaType: SIGSTORE_BUNDLE_V03,
    bytes: bundle,
    annotations: {
      'org.opencontainers.image.created': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType
    }
  }
}

/**
 * Pushes `artifact` as a referrer of the image `digest` (pushed by its own digest); adds it to
 * the referrers tag when the registry did not index it and `fallbackTag`. Returns where tools
 * find it: `unindexed` when nowhere (a registry without the referrers API, no fallback tag).
 */
export async function attachReferrer(
  client: RegistryClient,
  repo: RepositoryName,
  digest: string,
  artifact: ReferrerArtifact,
  logger: Logger,
  fallbackTag: boolean
): Promise<'referrers-api' | 'referrers-tag' | 'unindexed'> {
  const image = await client.getManifest({ ...repo, digest })
  const config = Buffer.from('{}')
  await upload(client, repo, config)
  await upload(client, repo, artifact.bytes)
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: artifact.artifactType,
    config: {
      mediaType: OCI_EMPTY,
      artifactType: artifact.artifactType,
      digest: sha256(config),
      size: config.length
    },
    layers: [
      { mediaType: artifact.mediaType, digest: sha256(artifact.bytes), size: artifact.bytes.length }
    ],
    subject: { mediaType: image.mediaType, digest, size: image.bytes.length },
    annotations: artifact.annotations
  }
  const bytes = Buffer.from(JSON.stringify(manifest))
  const put = await client.pushManifest(
    { ...repo, digest: sha256(bytes) },
    bytes,
    MediaType.ociManifest
  )
  if (put.ociSubject) return 'referrers-api'
  if (!fallbackTag) return 'unindexed'
  await addToReferrersTag(
    client,
    repo,
    digest,
    {
      mediaType: MediaType.ociManifest,
      digest: put.digest,
      size: bytes.length,
      artifactType: artifact.artifactType,
      annotations: artifact.annotations
    },
    logger
  )
  return 'referrers-tag'
}

/**
 * Adds `entry` to the image's referrers tag, merged with what is there: the entries that are
 * well-formed descriptors, the newest MAX_REFERRERS. What is there and cannot be read as an
 * index (not one, or past the client's bound on a manifest) is replaced, with a warning.
 */
async function addToReferrersTag(
  client: RegistryClient,
  repo: RepositoryName,
  digest: string,
  entry: Descriptor,
  logger: Logger
): Promise<void> {
  const ref = { ...repo, tag: referrersTag(digest) }
  let existing: Descriptor[] = []
  try {
    const found = await client.findManifest(ref)
    if (found) existing = referrerEntries(found.json)
  } catch (e) {
    // Only what is there and unreadable is replaced: a registry failing now (5xx, a timeout, a
    // refused login) would make us drop other tools' referrers.
    if (!unreadableIndex(e)) throw e
    logger.warning(
      `${repo.registry}/${repo.repository}:${ref.tag}: the referrers index there is unreadable (${oneLine((e as Error).message).slice(0, 200)}): replaced`
    )
  }
  const manifests = [...existing.filter(d => d.digest !== entry.digest), entry].slice(
    -MAX_REFERRERS
  )
  const index: ManifestJson = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }
  await client.putManifest(ref, Buffer.from(JSON.stringify(index)), MediaType.ociIndex)
}

/** An index that is not JSON, not a schema 2 manifest, or past the client's bound on one. */
function unreadableIndex(e: unknown): boolean {
  const message = (e as Error)?.message ?? ''
  return (
    e instanceof SyntaxError ||
    (e instanceof UserError && /manifest schema 1 is not supported/.test(message)) ||
    /(^|: )answer larger than \d/.test(message)
  )
}

/** The well-formed, reasonably small descriptors of a referrers index; nothing else of it. */
function referrerEntries(json: ManifestJson): Descriptor[] {
  if (json.mediaType !== undefined && json.mediaType !== MediaType.ociIndex) return []
  const list: unknown[] = Array.isArray(json.manifests) ? json.manifests : []
  return list.filter(isReferrerDescriptor).slice(-MAX_REFERRERS)
}

function isReferrerDescriptor(d: unknown): d is Descriptor {
  if (typeof d !== 'object' || d === null) return false
  const x = d as Record<string, unknown>
  const annotations = x.annotations as Record<string, unknown> | undefined
  return (
    typeof x.mediaType === 'string' &&
    typeof x.digest === 'string' &&
    /^sha256:[0-9a-f]{64}$/.test(x.digest) &&
    Number.isSafeInteger(x.size) &&
    (x.size as number) >= 0 &&
    (x.artifactType === undefined || typeof x.artifactType === 'string') &&
    (annotations === undefined ||
      (typeof annotations === 'object' &&
        annotations !== null &&
        Object.values(annotations).every(v => typeof v === 'string'))) &&
    JSON.stringify(d).length <= MAX_ENTRY_BYTES
  )
}
