// The signing key of `sign: key`: a PEM private key, read by node:crypto. cosign's own format
// ("ENCRYPTED SIGSTORE PRIVATE KEY": scrypt + NaCl secretbox) needs a secretbox library the
// project does not ship yet, so it is refused with the way to make a key we read.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { UserError } from '../errors.js'

export interface SigningKey {
  privateKey: KeyObject
  /** The public key as PEM (SPKI): what `cosign verify --key` takes. */
  publicKeyPem: string
}

const COSIGN_ENCRYPTED = /-----BEGIN ENCRYPTED (SIGSTORE|COSIGN) PRIVATE KEY-----/

export const MAKE_A_KEY =
  'make one with `openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8 -nocrypt -out signing.key` (add `-v2 aes-256-cbc` instead of `-nocrypt` and give signing-key-password to encrypt it)'

/** Reads `signing-key` (with `signing-key-password` when it is encrypted): an ECDSA P-256 key. */
export function loadSigningKey(pem: string, password: string): SigningKey {
  const text = pem.trim()
  if (COSIGN_ENCRYPTED.test(text)) {
    throw new UserError(`signing-key: cosign's encrypted key format is not read yet; ${MAKE_A_KEY}`)
  }
  if (!/-----BEGIN (EC |ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    throw new UserError(`signing-key: not a PEM private key; ${MAKE_A_KEY}`)
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: text, format: 'pem', passphrase: password || undefined })
  } catch {
    // node's message may quote the key's bytes: say only what is wrong
    throw new UserError(
      text.includes('ENCRYPTED')
        ? 'signing-key: cannot decrypt it: check signing-key-password'
        : 'signing-key: not a readable PEM private key'
    )
  }
  const curve = privateKey.asymmetricKeyDetails?.namedCurve
  if (privateKey.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    throw new UserError(
      `signing-key: an ECDSA P-256 key is needed (cosign's kind), got ${privateKey.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}`
    )
  }
  const publicKeyPem = createPublicKey(privateKey)
    .export({ format: 'pem', type: 'spki' })
    .toString()
  return { privateKey, publicKeyPem }
}

/** Reads a PEM public key (`reuse-trust` keys, a key's own half). */
export function loadPublicKey(pem: string, what: string): KeyObject {
  try {
    return createPublicKey({ key: pem.trim(), format: 'pem' })
  } catch {
    throw new UserError(`${what}: not a PEM public key`)
  }
}

/**
 * The keys whose signature makes an image reusable: the signing key's own and `reuse-trust`'s;
 * undefined when reuse is not verified (nothing signs, or `reuse-trust: any`).
 */
export function reuseTrustedKeys(s: {
  sign?: string
  signingKey?: string
  signingKeyPassword?: string
  reuseTrust?: string
}): KeyObject[] | undefined {
  const trust = (s.reuseTrust ?? '').trim()
  if (trust.toLowerCase() === 'any') return undefined
  const keys = (
    trust.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? []
  ).map(pem => loadPublicKey(pem, 'reuse-trust'))
  if (trust && keys.length === 0) {
    throw new UserError('reuse-trust: give PEM public keys (-----BEGIN PUBLIC KEY-----) or `any`')
  }
  if (s.sign !== 'off' && s.signingKey) {
    keys.push(createPublicKey(loadSigningKey(s.signingKey, s.signingKeyPassword ?? '').privateKey))
  }
  return keys.length > 0 ? keys : undefined
}
