// Whether a keyless (Sigstore) cosign signature makes an image reusable: its certificate chains
// to the trusted root, the signature and its Rekor entry or RFC 3161 timestamp verify
// (@sigstore/verify, fed the bundle rebuilt from cosign's annotations), and the certificate's
// identity is trusted for this run: the same repository on a protected ref (the rule of the run's
// own scope, src/core/trust.ts) or on the run's own ref, or an `identity:` glob of reuse-trust.
import type { Bundle } from '@sigstore/bundle'
import { ASN1Obj, crypto, pem, X509Certificate } from '@sigstore/core'
import { HashAlgorithm, TrustedRoot } from '@sigstore/protobuf-specs'
import { getTrustedRoot } from '@sigstore/tuf'
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { CiContext } from '../commit.js'
import type { Settings } from '../settings.js'
import { globRegExp, isProtectedRef, oneLine } from '../trust.js'
import {
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  REKOR_BUNDLE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  TIMESTAMP_ANNOTATION
} from './cosign-tags.js'
import type { RekorBundle } from './keyless.js'

/** Fulcio's certificate extensions (sigstore/fulcio docs/oid-info.md). */
const OID = {
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  issuer: '1.3.6.1.4.1.57264.1.8',
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14'
}

/** Who a Fulcio certificate names. */
export interface CertIdentity {
  /** The subject (SAN): a workflow's URL at a ref, an email. */
  subject: string
  issuer: string
  /** `https://github.com/acme/app`; '' when the certificate does not say. */
  repository: string
  /** `refs/heads/main`; '' when the certificate does not say. */
  ref: string
}

/** What the run trusts besides the signing keys. */
export interface KeylessTrustOptions {
  /** trusted_root.json's path; '' for the public-good instance's (Sigstore's TUF repository). */
  trustedRoot: string
  /** Where TUF's cache goes when it is fetched. */
  tempDir: string
  /** This run: `acme/app`, the CI's host (from its run URL) when known, its ref, the protected-ref rule. */
  run: {
    repository: string
    host: string
    ref: string
    defaultBranch: string
    trustedRefs: string[]
  }
  /** reuse-trust's `identity:` globs over the certificate's subject. */
  identities: string[]
}

export type KeylessVerdict =
  { trusted: true; identity: CertIdentity } | { trusted: false; why: string }

/** Checks keyless signatures for reuse; the trusted root is read once, when first needed. */
export class KeylessTrust {
  private verifiers?: Promise<Verifiers>

  constructor(private readonly o: KeylessTrustOptions) {}

  async check(payload: Buffer, annotations: Record<string, string>): Promise<KeylessVerdict> {
    let verifiers: Verifiers
    try {
      verifiers = await this.load()
    } catch (e) {
      const where = this.o.trustedRoot || "the public-good instance's, from Sigstore's TUF"
      return {
        trusted: false,
        why: `cannot check its keyless signature: trusted root ${where}: ${said(e)}`
      }
    }
    let identity: CertIdentity
    try {
      const bundle = bundleOfLayer(payload, annotations)
      const logged = bundle.verificationMaterial.tlogEntries.length > 0
      // The log's promise suffices; a TSA's time beside it is not read (@sigstore/core misreads
      // a GeneralizedTime whose fraction has fewer than three digits).
      if (logged) bundle.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [] }
      ;(logged ? verifiers.logged : verifiers.timestamped).verify(toSignedEntity(bundle, payload))
      identity = certIdentity(annotations[CERTIFICATE_ANNOTATION]!)
    } catch (e) {
      return { trusted: false, why: `its keyless signature does not verify (${said(e)})` }
    }
    if (this.trusts(identity)) return { trusted: true, identity }
    return {
      trusted: false,
      why: oneLine(
        `reuse key signed by ${this.signer(identity)}, not trusted on ${this.o.run.ref || 'this run'}`
      )
    }
  }

  private trusts(id: CertIdentity): boolean {
    if (this.o.identities.some(glob => globRegExp(glob).test(id.subject))) return true
    if (!this.sameRepository(id) || !id.ref) return false
    return id.ref === this.o.run.ref || isProtectedRef(id.ref, this.o.run)
  }

  private sameRepository(id: CertIdentity): boolean {
    const { repository, host } = this.o.run
    if (!repository || !id.repository) return false
    try {
      const url = new URL(id.repository)
      return (
        url.pathname.replace(/\/+$/, '').toLowerCase() === `/${repository.toLowerCase()}` &&
        (!host || url.host.toLowerCase() === host.toLowerCase())
      )
    } catch {
      return false
    }
  }

  /** `refs/pull/7/merge` for this repository's; the subject for another's. */
  private signer(id: CertIdentity): string {
    return this.sameRepository(id) && id.ref ? id.ref : id.subject || 'an unknown identity'
  }

  private load(): Promise<Verifiers> {
    this.verifiers ??= loadVerifiers(this.o.trustedRoot, this.o.tempDir)
    this.verifiers.catch(() => undefined)
    return this.verifiers
  }
}

/** An error's message in one bounded line. */
const said = (e: unknown): string =>
  oneLine(e instanceof Error ? e.message : String(e)).slice(0, 200)

/** reuse-trust's `identity: <glob>` lines. */
export function reuseTrustedIdentities(reuseTrust: string): string[] {
  return reuseTrust
    .split('\n')
    .map(line => /^\s*identity:\s*(\S+)\s*$/i.exec(line)?.[1])
    .filter((glob): glob is string => Boolean(glob))
}

function urlHost(url: string): string {
  try {
    return url ? new URL(url).host : ''
  } catch {
    return ''
  }
}

/** The ref a run builds, as certificates name refs: `refs/heads/main`, `refs/tags/v1`. */
function runRef(ci: CiContext): string {
  if (ci.tag) return `refs/tags/${ci.tag}`
  if (ci.isPullRequest) return ''
  return ci.branch ? `refs/heads/${ci.branch}` : ''
}

/**
 * The run's keyless trust: when it signs keylessly or reuse-trust names identities (and is not
 * `any`); undefined otherwise.
 */
export function keylessTrustFor(
  s: Pick<Settings, 'reuseTrust' | 'trustedRefs' | 'sigstore'>,
  ci: CiContext,
  tempDir: string,
  signsKeylessly: boolean
): KeylessTrust | undefined {
  if (/^\s*any\s*$/i.test(s.reuseTrust)) return undefined
  const identities = reuseTrustedIdentities(s.reuseTrust)
  if (!signsKeylessly && identities.length === 0) return undefined
  const host = urlHost(ci.runUrl)
  const ref = runRef(ci)
  return new KeylessTrust({
    trustedRoot: s.sigstore.trustedRoot,
    tempDir,
    run: {
      repository: ci.repository,
      host,
      ref: ref || (ci.pullRequest ? `pull request #${ci.pullRequest}` : ''),
      defaultBranch: ci.defaultBranch,
      trustedRefs: s.trustedRefs
    },
    identities
  })
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
export function bundleOfLayer(payload: Buffer, a: Record<string, string>): Bundle {
  const certs = [a[CERTIFICATE_ANNOTATION] ?? '', a[CHAIN_ANNOTATION] ?? '']
    .flatMap(
      text => text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
    )
    .map(c => ({ rawBytes: pem.toDER(c) }))
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

/** Who a Fulcio certificate names: its subject, issuer, source repository and ref. */
export function certIdentity(certificatePem: string): CertIdentity {
  const cert = X509Certificate.parse(certificatePem)
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
