// The Sigstore side of checking a keyless cosign signature (keyless-trust.ts decides whom to
// trust): the bundle rebuilt from cosign's annotations, verified by @sigstore/verify against the
// trusted root, and the identity its Fulcio certificate names. Loaded only when a run checks one.
import type { Bundle } from '@sigstore/bundle'
import { ASN1Obj, crypto, pem, X509Certificate } from '@sigstore/core'
import { HashAlgorithm, TrustedRoot } from '@sigstore/protobuf-specs'
import { getTrustedRoot } from '@sigstore/tuf'
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import {
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  REKOR_BUNDLE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  TIMESTAMP_ANNOTATION
} from './cosign-tags.js'
import type { RekorBundle } from './keyless.js'
import type { CertIdentity } from './keyless-trust.js'

/** Fulcio's certificate extensions (sigstore/fulcio docs/oid-info.md). */
const OID = {
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  issuer: '1.3.6.1.4.1.57264.1.8',
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14'
}

/** The identity a cosign `.sig` layer's keyless signature verifies for; throws when it does not. */
export type KeylessVerifier = (payload: Buffer, annotations: Record<string, string>) => CertIdentity

/** A verifier against the trusted root at `file`, or the public-good instance's (TUF). */
export async function keylessVerifier(file: string, tempDir: string): Promise<KeylessVerifier> {
  const verifiers = await loadVerifiers(file, tempDir)
  return (payload, annotations) => {
    const bundle = bundleOfLayer(payload, annotations)
    const logged = bundle.verificationMaterial.tlogEntries.length > 0
    // The log's promise suffices; a TSA's time beside it is not read (@sigstore/core misreads
    // a GeneralizedTime whose fraction has fewer than three digits).
    if (logged) bundle.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [] }
    ;(logged ? verifiers.logged : verifiers.timestamped).verify(toSignedEntity(bundle, payload))
    // Who signed is the certificate that verified, never a second reading of the annotation.
    const content = bundle.verificationMaterial.content
    if (content.$case !== 'x509CertificateChain') throw new Error('no certificate')
    return certIdentity(content.x509CertificateChain.certificates[0]!.rawBytes)
  }
}

/** A signature is logged (its log entry verified) or, without a log entry, timestamped by a TSA. */
interface Verifiers {
  logged: Verifier
  timestamped: Verifier
}

async function loadVerifiers(file: string, tempDir: string): Promise<Verifiers> {
  const root = file
    ? TrustedRoot.fromJSON(JSON.parse(await readFile(file, 'utf8')))
    : await getTrustedRoot({ cachePath: path.join(tempDir, 'sigstore-tuf') })
  const material = toTrustMaterial(root)
  // CT logs where the instance has them (GitHub's has none).
  const ctlogThreshold = root.ctlogs.length > 0 ? 1 : 0
  return {
    logged: new Verifier(material, { tlogThreshold: 1, tsaThreshold: 0, ctlogThreshold }),
    timestamped: new Verifier(material, { tlogThreshold: 0, tsaThreshold: 1, ctlogThreshold })
  }
}

/** The Sigstore bundle of a cosign `.sig` layer (cosign's pkg/cosign/bundle, read back). */
function bundleOfLayer(payload: Buffer, a: Record<string, string>): Bundle {
  const certs = [
    ...pemCertificates(a[CERTIFICATE_ANNOTATION] ?? '', 'certificate'),
    ...pemCertificates(a[CHAIN_ANNOTATION] ?? '', 'chain')
  ].map(c => ({ rawBytes: pem.toDER(c) }))
  if (certs.length === 0) throw new Error('no certificate')
  const rekor = a[REKOR_BUNDLE_ANNOTATION]
    ? (JSON.parse(a[REKOR_BUNDLE_ANNOTATION]) as RekorBundle)
    : undefined
  const ts = a[TIMESTAMP_ANNOTATION]
    ? (JSON.parse(a[TIMESTAMP_ANNOTATION]) as { SignedRFC3161Timestamp?: string })
    : undefined
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      content: { $case: 'x509CertificateChain', x509CertificateChain: { certificates: certs } },
      tlogEntries: rekor ? [tlogEntry(rekor)] : [],
      timestampVerificationData: {
        rfc3161Timestamps: ts?.SignedRFC3161Timestamp
          ? [{ signedTimestamp: Buffer.from(ts.SignedRFC3161Timestamp, 'base64') }]
          : []
      }
    },
    content: {
      $case: 'messageSignature',
      messageSignature: {
        messageDigest: {
          algorithm: HashAlgorithm.SHA2_256,
          digest: crypto.digest('sha256', payload)
        },
        signature: Buffer.from(a[SIGNATURE_ANNOTATION] ?? '', 'base64')
      }
    }
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----/g

/** The PEM certificates of an annotation: PEM blocks and whitespace only, else it is refused. */
function pemCertificates(text: string, what: string): string[] {
  if (text.replace(PEM_CERTIFICATE, '').trim() !== '') {
    throw new Error(`its ${what} annotation holds more than PEM certificates`)
  }
  return text.match(PEM_CERTIFICATE) ?? []
}

function tlogEntry(r: RekorBundle): Bundle['verificationMaterial']['tlogEntries'][number] {
  const body = Buffer.from(r.Payload.body, 'base64')
  const kind = JSON.parse(body.toString('utf8')) as { kind?: string; apiVersion?: string }
  return {
    logIndex: String(r.Payload.logIndex),
    logId: { keyId: Buffer.from(r.Payload.logID, 'hex') },
    kindVersion: { kind: kind.kind ?? '', version: kind.apiVersion ?? '' },
    integratedTime: String(r.Payload.integratedTime),
    inclusionPromise: { signedEntryTimestamp: Buffer.from(r.SignedEntryTimestamp, 'base64') },
    inclusionProof: undefined,
    canonicalizedBody: body
  }
}

/** Who a Fulcio certificate (PEM, or DER bytes) names: its subject, issuer, source repository and ref. */
export function certIdentity(certificate: string | Uint8Array): CertIdentity {
  const cert = X509Certificate.parse(
    typeof certificate === 'string' ? certificate : Buffer.from(certificate)
  )
  const ext = (oid: string): string => {
    const value = cert.extension(oid)?.value
    if (!value) return ''
    // Fulcio's newer extensions are DER UTF8Strings; the first ones raw bytes.
    return value[0] === 0x0c
      ? ASN1Obj.parseBuffer(Buffer.from(value)).value.toString('utf8')
      : value.toString('utf8')
  }
  const subject = cert.subjectAltName ?? ''
  const fromSubject = /@(refs\/[^@]+)$/.exec(subject)?.[1] ?? ''
  return {
    subject,
    issuer: ext(OID.issuer) || ext(OID.issuerV1),
    repository: ext(OID.sourceRepositoryUri),
    ref: ext(OID.sourceRepositoryRef) || fromSubject
  }
}
