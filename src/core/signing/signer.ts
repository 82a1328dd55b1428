// What signs a run's images: the signing key, or Sigstore keylessly with the CI's OIDC identity
// (`sign: auto` picks keyless when the CI gives a token, else the key when given).
import { RemoteError, UserError } from '../errors.js'
import { jwtClaims } from '../jwt.js'
import { LOCAL_SCOPE, oneLine, type TrustScope } from '../trust.js'
import type { RunEnvironment } from '../run-environment.js'
import type { Settings } from '../settings.js'
import {
  dsseEnvelope,
  DSSE_ENVELOPE,
  signBytes,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING,
  type SignedLayer
} from './cosign-tags.js'
import { keyBundleSigning, statementBundle } from './bundle.js'
import type { SigningKey } from './key.js'
import type { KeylessSigner } from './keyless.js'

/** The public-good instance's log: its entries are public. */
const PUBLIC_GOOD_REKOR = 'https://rekor.sigstore.dev'

/** The audience of the OIDC token Fulcio takes. */
export const SIGSTORE_AUDIENCE = 'sigstore'

export interface ImageSigner {
  /** `key`, or `keyless` (Sigstore): for the log. */
  kind: 'key' | 'keyless'
  /** The `.sig` layer of a simple signing payload. */
  signature(payload: Buffer): Promise<SignedLayer>
  /**
   * The `.att` layer of an in-toto statement, and its Sigstore bundle's JSON (v0.3), made when
   * asked (an OCI referrer): keyless signs once for both, a key signs the bundle on its own.
   */
  attestation(
    statement: unknown,
    predicateType: string
  ): Promise<{ layer: SignedLayer; bundle: () => Promise<Buffer> }>
}

function keySigner(key: SigningKey): ImageSigner {
  return {
    kind: 'key',
    signature: async payload => ({
      mediaType: SIMPLE_SIGNING,
      bytes: payload,
      annotations: { [SIGNATURE_ANNOTATION]: signBytes(key.privateKey, payload).toString('base64') }
    }),
    attestation: async (statement, predicateType) => ({
      layer: {
        mediaType: DSSE_ENVELOPE,
        bytes: dsseEnvelope(key.privateKey, statement),
        annotations: { [SIGNATURE_ANNOTATION]: '', predicateType }
      },
      bundle: () => statementBundle(statement, keyBundleSigning(key))
    })
  }
}

/** Sigstore's libraries load only in a run that signs keylessly (they cost ~45 ms of a start). */
async function keylessImageSigner(
  instance: Settings['sigstore'],
  token: () => Promise<string>
): Promise<ImageSigner> {
  const keyless = await import(/* webpackMode: "lazy" */ './keyless.js')
  const signer: KeylessSigner = new keyless.KeylessSigner(instance, token)
  return {
    kind: 'keyless',
    signature: async payload => {
      const s = await signer.signPayload(payload)
      return { mediaType: SIMPLE_SIGNING, bytes: s.bytes, annotations: s.annotations }
    },
    attestation: async (statement, predicateType) => {
      const s = await signer.attest(statement, predicateType)
      return {
        layer: { mediaType: DSSE_ENVELOPE, bytes: s.bytes, annotations: s.annotations },
        bundle: () => Promise.resolve(Buffer.from(JSON.stringify(s.bundle)))
      }
    }
  }
}

/** The CI's OIDC token for Sigstore, added to the run's secrets; undefined where there is none. */
async function sigstoreToken(run: RunEnvironment): Promise<string | undefined> {
  const token = await run.idToken?.(SIGSTORE_AUDIENCE)
  if (token) run.secrets.add(token)
  return token || undefined
}

/** The public log's URL as written by users: scheme and host compared, a trailing `/` ignored. */
function isPublicLog(url: string): boolean {
  try {
    const u = new URL(url)
    return u.host === new URL(PUBLIC_GOOD_REKOR).host && u.pathname.replace(/\/+$/, '') === ''
  } catch {
    return false
  }
}

/**
 * Why `auto` does not sign keylessly with this token, or '' when it may: the public log would
 * publish the repository's and workflow's names, so only a token that says the repository is
 * public (GitHub's `repository_visibility`) goes there; a private instance takes any.
 */
function autoKeylessRefusal(s: Pick<Settings, 'sigstore'>, token: string): string {
  if (!isPublicLog(s.sigstore.rekorUrl)) return ''
  const visibility = jwtClaims(token).repository_visibility
  if (visibility === 'public') return ''
  return `${visibility ? 'the repository is private' : "the CI's token does not say the repository is public"} and sigstore-rekor-url is the public log (it would publish the repository's name); set sign: keyless to, or give a private Sigstore instance's sigstore-* inputs`
}

/**
 * Why this run must not sign keylessly, or '': a run that builds a pull request's code (an
 * untrusted scope) with a token naming the base's ref (pull_request_target, workflow_run) would
 * sign that code as the base branch, which protected runs trust for reuse.
 */
function borrowedIdentity(scope: TrustScope, token: string): string {
  if (scope.kind !== 'untrusted') return ''
  const c = jwtClaims(token)
  const ref = String(c.ref_path ?? c.ref ?? '')
  if (/^refs\/(pull|merge-requests)\//.test(ref)) return ''
  return `this run builds ${scope.reason || 'untrusted code'}, but the CI's OIDC token names ${ref ? oneLine(ref).slice(0, 100) : 'no pull request ref'}: a signature would claim it`
}

/**
 * The run's signer, as `sign` says: keyless when asked, or on auto when the CI gives a token;
 * else the key when one is given (already read: `key`); else none. `scope`: the run's trust scope.
 */
export async function chooseSigner(
  s: Pick<Settings, 'sign' | 'sigstore'>,
  run: RunEnvironment,
  key: SigningKey | undefined,
  scope: TrustScope = LOCAL_SCOPE
): Promise<ImageSigner | undefined> {
  if (s.sign === 'off') return undefined
  const byKey = key ? keySigner(key) : undefined
  if (s.sign === 'key') return byKey
  const keyless = s.sign === 'keyless'
  const token = await tokenFor(keyless, run)
  if (!token) {
    if (!keyless) return byKey
    throw new UserError({
      input: 'sign',
      message:
        "sign: keyless needs the CI's OIDC token, and the CI gave none: on GitHub give the job `permissions: id-token: write`; on GitLab `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`; on Buildkite and CircleCI their OIDC token; or use sign: key with signing-key"
    })
  }
  const refusal = borrowedIdentity(scope, token) || (keyless ? '' : autoKeylessRefusal(s, token))
  // A fresh token when signing: the build may outlast this one.
  if (!refusal)
    return keylessImageSigner(s.sigstore, async () => (await sigstoreToken(run)) ?? token)
  if (keyless) {
    run.logger.warning(`Images not signed: ${refusal}`)
    return undefined
  }
  run.logger.info(`Not signing keylessly: ${refusal}`)
  return byKey
}

/** The token; a failing token service is a remote failure for keyless, one line for auto. */
async function tokenFor(keyless: boolean, run: RunEnvironment): Promise<string | undefined> {
  try {
    return await sigstoreToken(run)
  } catch (e) {
    const why = `the CI's OIDC token service failed: ${oneLine((e as Error).message).slice(0, 200)}`
    if (keyless) throw new RemoteError(`sign: keyless: ${why}`)
    run.logger.info(`Not signing keylessly: ${why}`)
    return undefined
  }
}
