// Keyless signing through Sigstore (`sign: keyless`): an ephemeral key, a Fulcio certificate for
// the CI's OIDC identity (asked once per run, however many images are signed), each signature
// logged in Rekor and/or timestamped by a TSA. The bundles come from @sigstore/sign's builders;
// cosign reads them from its tag scheme's annotations (cosign's pkg/oci/static and
// pkg/cosign/bundle: certificate, chain, Rekor bundle, RFC 3161 timestamp).
import {
  bundleToJSON,
  envelopeToJSON,
  type Bundle,
  type SerializedBundle,
  type TransparencyLogEntry
} from '@sigstore/bundle'
import {
  DSSEBundleBuilder,
  MessageSignatureBundleBuilder,
  RekorWitness,
  TSAWitness,
  type Signature,
  type Signer,
  type Witness
} from '@sigstore/sign'
// Not exported by the package: its Fulcio client (which keeps the chain) and ephemeral key.
import { CAClient } from '@sigstore/sign/dist/signer/fulcio/ca.js'
import { EphemeralSigner } from '@sigstore/sign/dist/signer/fulcio/ephemeral.js'
import { extractJWTSubject } from '@sigstore/sign/dist/util/oidc.js'
import { TSAClient } from '@sigstore/sign/dist/witness/tsa/client.js'
import { RemoteError } from '../errors.js'
import { oneLine } from '../trust.js'
import {
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  IN_TOTO,
  REKOR_BUNDLE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  TIMESTAMP_ANNOTATION
} from './cosign-tags.js'

/** A Sigstore instance to sign with; rekorUrl '' means timestamps only (tsaUrl then). */
export interface SigstoreInstance {
  fulcioUrl: string
  rekorUrl: string
  tsaUrl: string
}

/** What a signature or an attestation is in cosign's tag scheme. */
export interface KeylessSigned {
  /** The layer's bytes: the payload signed, or the DSSE envelope. */
  bytes: Buffer
  annotations: Record<string, string>
  /** The Sigstore bundle (v0.3 JSON for an attestation). */
  bundle: SerializedBundle
}

/** The ephemeral key and its Fulcio certificate: one request, whatever signs with it. */
class RunCertificate implements Signer {
  private readonly key = new EphemeralSigner()
  private chain?: Promise<string[]>

  constructor(
    private readonly ca: CAClient,
    private readonly token: () => Promise<string>
  ) {}

  /** The certificate, then its chain up to the root (PEM). */
  certificates(): Promise<string[]> {
    this.chain ??= this.request()
    return this.chain
  }

  private async request(): Promise<string[]> {
    const token = await this.token()
    // Fulcio's proof of possession: the key signs the token's subject.
    const proof = await this.key.sign(Buffer.from(extractJWTSubject(token)))
    if (proof.key.$case !== 'publicKey') throw new Error('the ephemeral key has no public key')
    return this.ca.createSigningCertificate(token, proof.key.publicKey, proof.signature)
  }

  async sign(data: Buffer): Promise<Signature> {
    const [leaf] = await this.certificates()
    const { signature } = await this.key.sign(data)
    return { signature, key: { $case: 'x509Certificate', certificate: leaf! } }
  }
}

/** Signs a run's images keylessly: `token` gives the CI's OIDC token when first needed. */
export class KeylessSigner {
  private readonly cert: RunCertificate
  private readonly messages: MessageSignatureBundleBuilder
  private readonly statements: DSSEBundleBuilder
  private readonly tsa?: TSAClient

  constructor(
    private readonly instance: SigstoreInstance,
    token: () => Promise<string>
  ) {
    const retry = { retries: 2 }
    this.cert = new RunCertificate(
      new CAClient({ fulcioBaseURL: instance.fulcioUrl, retry, timeout: 30_000 }),
      token
    )
    const witnesses: Witness[] = []
    if (instance.rekorUrl) {
      witnesses.push(new RekorWitness({ rekorBaseURL: instance.rekorUrl, retry, timeout: 30_000 }))
    }
    if (instance.tsaUrl) {
      const tsa = { tsaBaseURL: instance.tsaUrl, retry, timeout: 30_000 }
      witnesses.push(new TSAWitness(tsa))
      this.tsa = new TSAClient(tsa)
    }
    this.messages = new MessageSignatureBundleBuilder({ signer: this.cert, witnesses })
    this.statements = new DSSEBundleBuilder({ signer: this.cert, witnesses })
  }

  /** cosign's image signature: `payload` (simple signing) signed, with its verification material. */
  async signPayload(payload: Buffer): Promise<KeylessSigned> {
    const bundle = await this.guard(() => this.messages.create({ data: payload }))
    const content = bundle.content
    if (content.$case !== 'messageSignature') throw new Error('not a message signature bundle')
    return {
      bytes: payload,
      annotations: {
        [SIGNATURE_ANNOTATION]: content.messageSignature.signature.toString('base64'),
        ...(await this.material(bundle))
      },
      bundle: bundleToJSON(bundle)
    }
  }

  /** A DSSE envelope of the in-toto `statement`, as `cosign attest` writes it. */
  async attest(statement: unknown, predicateType: string): Promise<KeylessSigned> {
    const bundle = await this.guard(() =>
      this.statements.create({ data: Buffer.from(JSON.stringify(statement)), type: IN_TOTO })
    )
    const content = bundle.content
    if (content.$case !== 'dsseEnvelope') throw new Error('not a DSSE bundle')
    const bytes = Buffer.from(JSON.stringify(envelopeToJSON(content.dsseEnvelope)))
    const material = await this.material(bundle)
    // cosign checks an attestation's timestamp over the envelope it reads (pkg/cosign/verify.go
    // VerifyRFC3161Timestamp), the bundle's covers the envelope's signature: one each.
    if (this.tsa) {
      material[TIMESTAMP_ANNOTATION] = JSON.stringify({
        SignedRFC3161Timestamp: (await this.guard(() => this.tsa!.createTimestamp(bytes))).toString(
          'base64'
        )
      })
    }
    return {
      bytes,
      annotations: { [SIGNATURE_ANNOTATION]: '', predicateType, ...material },
      bundle: bundleToJSON(bundle)
    }
  }

  /** A failure of Fulcio, Rekor or the TSA in one line naming the instance (exit code 3). */
  private async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f()
    } catch (e) {
      const { fulcioUrl, rekorUrl, tsaUrl } = this.instance
      const where = [fulcioUrl, rekorUrl, tsaUrl].filter(Boolean).join(', ')
      throw new RemoteError(`keyless signing through Sigstore (${where}): ${causes(e)}`, {
        cause: e
      })
    }
  }

  /** The certificate, its chain, the Rekor entry and the timestamp, as cosign's annotations. */
  private async material(bundle: Bundle): Promise<Record<string, string>> {
    const [leaf, ...chain] = await this.cert.certificates()
    const out: Record<string, string> = { [CERTIFICATE_ANNOTATION]: leaf! }
    if (chain.length > 0) out[CHAIN_ANNOTATION] = chain.join('')
    const entry = bundle.verificationMaterial.tlogEntries[0]
    if (entry) out[REKOR_BUNDLE_ANNOTATION] = JSON.stringify(rekorBundle(entry))
    const ts = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps[0]
    if (ts) {
      out[TIMESTAMP_ANNOTATION] = JSON.stringify({
        SignedRFC3161Timestamp: Buffer.from(ts.signedTimestamp).toString('base64')
      })
    }
    return out
  }
}

/** An error and its causes' messages, in one bounded line (a server's answer is untrusted). */
function causes(e: unknown): string {
  const parts: string[] = []
  for (let c = e; c instanceof Error && parts.length < 3; c = c.cause) parts.push(c.message)
  return oneLine(parts.join(': ') || String(e)).slice(0, 400)
}

/** cosign's Rekor bundle (pkg/cosign/bundle RekorBundle): the entry and its promise. */
export interface RekorBundle {
  SignedEntryTimestamp: string
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string }
}

function rekorBundle(entry: TransparencyLogEntry): RekorBundle {
  return {
    SignedEntryTimestamp: Buffer.from(
      entry.inclusionPromise?.signedEntryTimestamp ?? Buffer.alloc(0)
    ).toString('base64'),
    Payload: {
      body: Buffer.from(entry.canonicalizedBody).toString('base64'),
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: Buffer.from(entry.logId?.keyId ?? Buffer.alloc(0)).toString('hex')
    }
  }
}
