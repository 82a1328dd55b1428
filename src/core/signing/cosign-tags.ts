// Signatures and attestations where cosign looks for them by default: the tag scheme
// (`sha256-<hex>.sig`, `sha256-<hex>.att` in the image's repository), an OCI manifest whose
// layers are the signed payloads (cosign's pkg/oci/static and pkg/types). Pushed and read
// through our registry client; the crypto is node:crypto's ECDSA (DER signatures, as cosign's).
import { sign as ecdsaSign, verify as ecdsaVerify, type KeyObject } from 'node:crypto'
import { Readable } from 'node:stream'
import {
  MediaType,
  sha256,
  type Descriptor,
  type ManifestJson,
  type RegistryClient
} from '../registry/client.js'
import type { RepositoryName } from '../registry/reference.js'

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json'
export const DSSE_ENVELOPE = 'application/vnd.dsse.envelope.v1+json'
export const IN_TOTO = 'application/vnd.in-toto+json'
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature'
/** A keyless signature's verification material (cosign's pkg/oci/static). */
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate'
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain'
export const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle'
export const TIMESTAMP_ANNOTATION = 'dev.sigstore.cosign/rfc3161timestamp'
/** Layers kept in one .sig/.att manifest: an old one's are dropped first (a bounded read). */
const MAX_LAYERS = 20

/** `sha256-<hex>.sig` / `.att`: cosign's tag for what belongs to the image `digest`. */
export function cosignTag(digest: string, suffix: 'sig' | 'att'): string {
  return `${digest.replace(':', '-')}.${suffix}`
}

/** cosign's "simple signing" payload: what a signature of the image signs. */
export function simpleSigningPayload(repo: RepositoryName, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': `${repo.registry}/${repo.repository}` },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature'
      },
      optional: null
    })
  )
}

/** DSSE's pre-authentication encoding: what an envelope's signature covers. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const head = `DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `
  return Buffer.concat([Buffer.from(head), payload])
}

export function signBytes(key: KeyObject, data: Buffer): Buffer {
  return ecdsaSign('sha256', data, key)
}

/** A DSSE envelope of an in-toto statement, signed. */
export function dsseEnvelope(key: KeyObject, statement: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(statement))
  const sig = signBytes(key, pae(IN_TOTO, payload))
  return Buffer.from(
    JSON.stringify({
      payloadType: IN_TOTO,
      payload: payload.toString('base64'),
      signatures: [{ keyid: '', sig: sig.toString('base64') }]
    })
  )
}

export interface SignedLayer {
  mediaType: string
  bytes: Buffer
  annotations: Record<string, string>
}

/** Adds `layer` to the image's `.sig` or `.att` manifest (made when there is none). */
export async function attachLayer(
  client: RegistryClient,
  repo: RepositoryName,
  digest: string,
  suffix: 'sig' | 'att',
  layer: SignedLayer
): Promise<void> {
  const ref = { ...repo, tag: cosignTag(digest, suffix) }
  const existing = await client.findManifest(ref)
  const kept = (existing?.json.layers ?? []).slice(-(MAX_LAYERS - 1))
  const desc: Descriptor = {
    mediaType: layer.mediaType,
    digest: sha256(layer.bytes),
    size: layer.bytes.length,
    annotations: layer.annotations
  }
  const layers = [...kept.filter(l => l.digest !== desc.digest), desc]
  await upload(client, repo, layer.bytes)
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map(l => l.digest) },
      config: {}
    })
  )
  await upload(client, repo, config)
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha256(config), size: config.length },
    layers
  }
  await client.putManifest(ref, Buffer.from(JSON.stringify(manifest)), MediaType.ociManifest)
}

/** Uploads `bytes` as a blob of `repo` (nothing sent when it has it). */
export async function upload(
  client: RegistryClient,
  repo: RepositoryName,
  bytes: Buffer
): Promise<void> {
  await client.uploadBlob(repo, { digest: sha256(bytes), size: bytes.length }, () =>
    Readable.from([bytes])
  )
}

/** What an image's signatures say: one by a trusted key, none, or only others'. */
export type SignatureCheck = 'signed' | 'unsigned' | 'foreign'

/** Checks a keyless signature's payload and annotations (src/core/signing/keyless-trust.ts). */
export interface KeylessChecker {
  check(
    payload: Buffer,
    annotations: Record<string, string>
  ): Promise<{ trusted: true } | { trusted: false; why: string }>
}

/**
 * Whether the image `digest` has a cosign signature by one of `keys`, or a keyless one `keyless`
 * trusts, over its own digest: two round trips (the .sig manifest, then the payloads until one
 * verifies). `why`: what the last untrusted keyless signature said.
 */
export async function checkSignature(
  client: RegistryClient,
  repo: RepositoryName,
  digest: string,
  keys: readonly KeyObject[],
  keyless?: KeylessChecker
): Promise<{ check: SignatureCheck; why?: string }> {
  const found = await client.findManifest({ ...repo, tag: cosignTag(digest, 'sig') })
  const layers = (found?.json.layers ?? []).filter(
    l => l.mediaType === SIMPLE_SIGNING && l.annotations?.[SIGNATURE_ANNOTATION]
  )
  if (layers.length === 0) return { check: 'unsigned' }
  let why: string | undefined
  for (const layer of layers.slice(-MAX_LAYERS)) {
    const annotations = layer.annotations ?? {}
    const certified = Boolean(annotations[CERTIFICATE_ANNOTATION])
    if (certified && !keyless) continue
    const payload = await client.readBlob(repo, layer.digest)
    if (sha256(payload) !== layer.digest || !signsDigest(payload, digest)) continue
    if (certified) {
      const verdict = await keyless!.check(payload, annotations)
      if (verdict.trusted) return { check: 'signed' }
      why = verdict.why
      continue
    }
    const sig = Buffer.from(annotations[SIGNATURE_ANNOTATION] ?? '', 'base64')
    if (keys.some(k => verifies(payload, k, sig))) return { check: 'signed' }
  }
  return { check: 'foreign', why }
}

/** checkSignature with keys only. */
export async function hasValidSignature(
  client: RegistryClient,
  repo: RepositoryName,
  digest: string,
  keys: readonly KeyObject[]
): Promise<SignatureCheck> {
  return (await checkSignature(client, repo, digest, keys)).check
}

/** A malformed signature (a forged layer) is one that does not verify. */
function verifies(payload: Buffer, key: KeyObject, sig: Buffer): boolean {
  try {
    return ecdsaVerify('sha256', payload, key, sig)
  } catch {
    return false
  }
}

function signsDigest(payload: Buffer, digest: string): boolean {
  try {
    const p = JSON.parse(payload.toString('utf8')) as {
      critical?: { image?: { 'docker-manifest-digest'?: string } }
    }
    return p.critical?.image?.['docker-manifest-digest'] === digest
  } catch {
    return false
  }
}
