// Whether a keyless (Sigstore) cosign signature makes an image reusable: its certificate chains
// to the trusted root, the signature and its Rekor entry or RFC 3161 timestamp verify
// (@sigstore/verify, fed the bundle rebuilt from cosign's annotations), and the certificate's
// identity is trusted for this run: the same repository on a protected ref (the rule of the run's
// own scope, src/core/trust.ts) or on the run's own ref, or an `identity:` glob of reuse-trust.
import type { CiContext } from '../commit.js'
import type { Settings } from '../settings.js'
import { fullRef, globRegExp, isProtectedRef, oneLine } from '../trust.js'
import type { KeylessVerifier } from './keyless-verify.js'

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
  private verifier?: Promise<KeylessVerifier>

  constructor(private readonly o: KeylessTrustOptions) {}

  async check(payload: Buffer, annotations: Record<string, string>): Promise<KeylessVerdict> {
    let verifier: KeylessVerifier
    try {
      verifier = await this.load()
    } catch (e) {
      const where = this.o.trustedRoot || "the public-good instance's, from Sigstore's TUF"
      return {
        trusted: false,
        why: `cannot check its keyless signature: trusted root ${where}: ${said(e)}`
      }
    }
    let identity: CertIdentity
    try {
      identity = verifier(payload, annotations)
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
        // The host must be known (the CI's run page): `acme/app` on another forge is not this one.
        Boolean(host) &&
        url.host.toLowerCase() === host.toLowerCase()
      )
    } catch {
      return false
    }
  }

  /** `refs/pull/7/merge` for this repository's; the subject for another's. */
  private signer(id: CertIdentity): string {
    return this.sameRepository(id) && id.ref ? id.ref : id.subject || 'an unknown identity'
  }

  /** Sigstore's libraries load with the first keyless signature checked (a start without costs nothing). */
  private load(): Promise<KeylessVerifier> {
    this.verifier ??= import(/* webpackMode: "lazy" */ './keyless-verify.js').then(lib =>
      lib.keylessVerifier(this.o.trustedRoot, this.o.tempDir)
    )
    this.verifier.catch(() => undefined)
    return this.verifier
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
  return ci.isPullRequest && !ci.tag ? '' : fullRef(ci)
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
