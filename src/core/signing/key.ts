// The signing key of `sign: key`: a PEM private key read by node:crypto, or cosign's own format
// (`cosign generate-key-pair`: "ENCRYPTED SIGSTORE PRIVATE KEY", scrypt + NaCl secretbox, as
// sigstore/sigstore pkg/cryptoutils and pkg/encrypted write it), decrypted to its PKCS#8 key.
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js'
import { createPrivateKey, createPublicKey, scryptSync, type KeyObject } from 'node:crypto'
import { UserError } from '../errors.js'

export interface SigningKey {
  privateKey: KeyObject
  /** The public key as PEM (SPKI): what `cosign verify --key` takes. */
  publicKeyPem: string
}

const COSIGN_ENCRYPTED = /-----BEGIN ENCRYPTED (SIGSTORE|COSIGN) PRIVATE KEY-----/

export const MAKE_A_KEY =
  'make one with `cosign generate-key-pair`, or `openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8 -nocrypt -out signing.key` (add `-v2 aes-256-cbc` instead of `-nocrypt` and give signing-key-password to encrypt it)'

/** Reads `signing-key` (with `signing-key-password` when it is encrypted): an ECDSA P-256 key. */
export function loadSigningKey(pem: string, password: string): SigningKey {
  const text = pem.trim()
  const cosignKey = COSIGN_ENCRYPTED.test(text)
  if (!cosignKey && !/-----BEGIN (EC |ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    throw new UserError(`signing-key: not a PEM private key; ${MAKE_A_KEY}`)
  }
  let privateKey: KeyObject
  try {
    privateKey = cosignKey
      ? createPrivateKey({ key: decryptCosignKey(text, password), format: 'der', type: 'pkcs8' })
      : createPrivateKey({ key: text, format: 'pem', passphrase: password || undefined })
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

/** What `cosign generate-key-pair` writes in the PEM body (sigstore/sigstore pkg/encrypted). */
interface CosignEncrypted {
  kdf?: { name?: string; params?: { N?: number; r?: number; p?: number }; salt?: string }
  cipher?: { name?: string; nonce?: string }
  ciphertext?: string
}

/** Bounds a hostile key's scrypt cost (cosign writes N=65536, r=8, p=1: 64 MiB). */
const SCRYPT_MAX_MEMORY = 512 * 1024 * 1024

/** The PKCS#8 DER key inside cosign's encrypted PEM; throws on a wrong password or a bad key. */
function decryptCosignKey(pem: string, password: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '')
  const e = JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as CosignEncrypted
  const { N = 0, r = 0, p = 0 } = e.kdf?.params ?? {}
  if (
    e.kdf?.name !== 'scrypt' ||
    e.cipher?.name !== 'nacl/secretbox' ||
    128 * N * r * p > SCRYPT_MAX_MEMORY
  ) {
    throw new Error('unknown kind')
  }
  const key = scryptSync(password, Buffer.from(e.kdf.salt ?? '', 'base64'), 32, {
    N,
    r,
    p,
    maxmem: 2 * 128 * N * r * p
  })
  const nonce = Buffer.from(e.cipher.nonce ?? '', 'base64')
  return Buffer.from(
    xsalsa20poly1305(key, nonce).decrypt(Buffer.from(e.ciphertext ?? '', 'base64'))
  )
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
 * undefined when reuse is not verified (nothing signs, or `reuse-trust: any`). `loaded`: the
 * signing key read already (cosign's format costs an scrypt each time it is read).
 */
export function reuseTrustedKeys(
  s: {
    sign?: string
    signingKey?: string
    signingKeyPassword?: string
    reuseTrust?: string
  },
  loaded?: SigningKey
): KeyObject[] | undefined {
  const trust = (s.reuseTrust ?? '').trim()
  if (trust.toLowerCase() === 'any') return undefined
  const keys = (
    trust.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? []
  ).map(pem => loadPublicKey(pem, 'reuse-trust'))
  if (trust && keys.length === 0 && !/^\s*identity:/im.test(trust)) {
    throw new UserError(
      'reuse-trust: give PEM public keys (-----BEGIN PUBLIC KEY-----), `identity: <glob>` lines or `any`'
    )
  }
  if (s.sign !== 'off' && s.signingKey) {
    const key = loaded ?? loadSigningKey(s.signingKey, s.signingKeyPassword ?? '')
    keys.push(createPublicKey(key.privateKey))
  }
  return keys.length > 0 ? keys : undefined
}
