// A provenance statement as a Sigstore bundle (v0.3 JSON, a DSSE envelope): made by
// @sigstore/sign's DSSEBundleBuilder over a Signer. Key mode's signer signs with our key and names
// it by cosign's hint (no transparency log: an air-gapped registry's case); a keyless signer
// (Fulcio, with Rekor or timestamp witnesses) is passed in the same way.
import { createHash, createPublicKey } from 'node:crypto'
import type { Signer, Witness } from '@sigstore/sign'
import { IN_TOTO, signBytes } from './cosign-tags.js'
import type { SigningKey } from './key.js'

export const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json'

/** Who signs a bundle and who witnesses the signature (a log, a timestamp authority). */
export interface BundleSigning {
  signer: Signer
  witnesses?: Witness[]
}

/**
 * cosign's hint for a key in a bundle: base64 of the SHA-256 of its SPKI DER (cosign's
 * pkg/cosign/bundle MakeNewBundle). Verifiers look the key up by it.
 */
export function keyHint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' })
  return createHash('sha256').update(der).digest('base64')
}

/** A Signer over a key of ours: ECDSA P-256 with SHA-256, its public key named by its hint. */
export function keyBundleSigning(key: SigningKey): BundleSigning {
  const hint = keyHint(key.publicKeyPem)
  return {
    signer: {
      sign: data =>
        Promise.resolve({
          signature: signBytes(key.privateKey, data),
          key: { $case: 'publicKey', publicKey: key.publicKeyPem, hint }
        })
    },
    witnesses: []
  }
}

/** The statement, signed as a DSSE envelope in a Sigstore bundle: the bundle's JSON bytes. */
export async function statementBundle(statement: unknown, signing: BundleSigning): Promise<Buffer> {
  // loaded when a run signs: the library and its fetch stack cost a start that does not
  // (`eager`: in the same bundle file, evaluated on first use)
  const [{ DSSEBundleBuilder }, { bundleToJSON }] = await Promise.all([
    import(/* webpackMode: "lazy" */ '@sigstore/sign'),
    import(/* webpackMode: "lazy" */ '@sigstore/bundle')
  ])
  const builder = new DSSEBundleBuilder({
    signer: signing.signer,
    witnesses: signing.witnesses ?? []
  })
  const bundle = await builder.create({
    data: Buffer.from(JSON.stringify(statement)),
    type: IN_TOTO
  })
  // The envelope names no key, as cosign writes it: @sigstore/sign puts the hint there, and
  // sigstore-go (cosign's verifier) skips a signature whose keyid is not its own key's fingerprint.
  for (const sig of bundle.content.dsseEnvelope.signatures) sig.keyid = ''
  return Buffer.from(JSON.stringify(bundleToJSON(bundle)))
}
