// What signs a run's images: the signing key, or Sigstore keylessly with the CI's OIDC identity
// (`sign: auto` picks keyless when the CI gives a token, else the key when given).
import { UserError } from '../errors.js'
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

export function keySigner(key: SigningKey): ImageSigner {
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
export async function keylessImageSigner(
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

/** The token's claims, or none when it is not a readable JWT. */
function claims(token: string): Record<string, unknown> {
  try {
    return JSON.parse(
      Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')
    ) as Record<string, unknown>
  } catch {
    return {}
  }
}

/**
 * Whether `auto` keeps a private repository out of the public log: GitHub's token names the
 * repository's visibility, and the public-good Rekor would publish its name and workflow.
 */
function privateOnPublicGood(s: Pick<Settings, 'sigstore'>, token: string): boolean {
  const visibility = claims(token).repository_visibility
  return (
    typeof visibility === 'string' &&
    visibility !== 'public' &&
    s.sigstore.rekorUrl === PUBLIC_GOOD_REKOR
  )
}

/**
 * The run's signer, as `sign` says: keyless when asked, or on auto when the CI gives a token;
 * else the key when one is given (already read: `key`); else none.
 */
export async function chooseSigner(
  s: Pick<Settings, 'sign' | 'sigstore'>,
  run: RunEnvironment,
  key: SigningKey | undefined
): Promise<ImageSigner | undefined> {
  if (s.sign === 'off') return undefined
  if (s.sign === 'keyless' || s.sign === 'auto') {
    const token = await sigstoreToken(run)
    if (token && s.sign === 'auto' && privateOnPublicGood(s, token)) {
      run.logger.info(
        "Not signing keylessly: the repository is private and sigstore-rekor-url is the public log (it would publish the repository's name); set sign: keyless to, or give a private Sigstore instance's sigstore-* inputs"
      )
    } else if (token) {
      // A fresh token when signing: the build may outlast this one.
      return await keylessImageSigner(s.sigstore, async () => (await sigstoreToken(run)) ?? token)
    }
    if (s.sign === 'keyless') {
      throw new UserError({
        input: 'sign',
        message:
          "sign: keyless needs the CI's OIDC token, and the CI gave none: on GitHub give the job `permissions: id-token: write`; on GitLab `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`; on Buildkite and CircleCI their OIDC token; or use sign: key with signing-key"
      })
    }
  }
  return key ? keySigner(key) : undefined
}
