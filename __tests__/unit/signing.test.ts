// The signing key as read (what `sign: key` takes and refuses, in one line, never quoting the
// key), DSSE's pre-authentication encoding (the spec's own example, secure-systems-lab/dsse
// protocol.md), and one signature per image digest.
import { describe, expect, it } from '@jest/globals'
import { generateKeyPairSync, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from '../helpers/rig.js'
import { UserError } from '../../src/core/errors.js'
import { imagesByDigest } from '../../src/core/pipeline/sign.js'
import type { ServiceReport } from '../../src/core/run-environment.js'
import {
  cosignTag,
  dsseEnvelope,
  IN_TOTO,
  pae,
  simpleSigningPayload
} from '../../src/core/signing/cosign-tags.js'
import { loadSigningKey, reuseTrustedKeys } from '../../src/core/signing/key.js'

const ec = (o: object = {}): { privateKey: string; publicKey: string } =>
  generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', ...o },
    publicKeyEncoding: { type: 'spki', format: 'pem' }
  })

function thrown(f: () => unknown): Error {
  try {
    f()
  } catch (e) {
    return e as Error
  }
  throw new Error('did not throw')
}

describe('loadSigningKey', () => {
  it('reads PKCS#8, SEC1 and encrypted PKCS#8 P-256 keys; the public half is PEM', () => {
    const plain = ec()
    expect(loadSigningKey(plain.privateKey, '').publicKeyPem).toBe(plain.publicKey)
    const sec1 = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'sec1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' }
    })
    expect(loadSigningKey(sec1.privateKey, '').publicKeyPem).toBe(sec1.publicKey)
    const enc = ec({ cipher: 'aes-256-cbc', passphrase: 'hunter2-xyz' })
    expect(loadSigningKey(enc.privateKey, 'hunter2-xyz').publicKeyPem).toBe(enc.publicKey)
  })

  it('refuses in one line naming the input, never quoting the key', () => {
    const enc = ec({ cipher: 'aes-256-cbc', passphrase: 'right' })
    const wrong = thrown(() => loadSigningKey(enc.privateKey, 'wrong'))
    expect(wrong).toBeInstanceOf(UserError)
    expect(wrong.message).toBe('signing-key: cannot decrypt it: check signing-key-password')

    const rsa = generateKeyPairSync('rsa', {
      modulusLength: 1024,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' }
    })
    expect(thrown(() => loadSigningKey(rsa.privateKey, '')).message).toMatch(
      /^signing-key: an ECDSA P-256 key is needed \(cosign's kind\), got rsa$/
    )
    // cosign's format with a kdf it does not name (no params): refused, never quoted
    const body = 'eyJrZGYiOnsibmFtZSI6InNjcnlwdCJ9fQ=='
    const cosignKey = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${body}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----`
    const e = thrown(() => loadSigningKey(cosignKey, ''))
    expect(e.message).toBe('signing-key: cannot decrypt it: check signing-key-password')
    expect(e.message).not.toContain(body)
    expect(thrown(() => loadSigningKey('not a key', '')).message).toMatch(
      /^signing-key: not a PEM private key/
    )
  })
})

describe("cosign's own key format", () => {
  // Made by `COSIGN_PASSWORD=fixture-pass cosign generate-key-pair` (cosign v2.6.5).
  const fixture = (name: string): string =>
    readFileSync(path.join(REPO_ROOT, '__tests__', 'fixtures', 'cosign', name), 'utf8')

  it('reads a key cosign generated: its public half is cosign.pub', () => {
    const key = loadSigningKey(fixture('cosign.key'), 'fixture-pass')
    expect(key.publicKeyPem.trim()).toBe(fixture('cosign.pub').trim())
  })

  it('a wrong password is one line naming the input, never the key', () => {
    const e = thrown(() => loadSigningKey(fixture('cosign.key'), 'wrong'))
    expect(e).toBeInstanceOf(UserError)
    expect(e.message).toBe('signing-key: cannot decrypt it: check signing-key-password')
  })
})

describe('reuseTrustedKeys', () => {
  it('is the signing key and reuse-trust keys; none without either; `any` turns verification off', () => {
    const a = ec()
    const b = ec()
    expect(reuseTrustedKeys({ sign: 'auto', signingKey: '', reuseTrust: '' })).toBeUndefined()
    expect(
      reuseTrustedKeys({ sign: 'auto', signingKey: a.privateKey, reuseTrust: 'any' })
    ).toBeUndefined()
    const keys = reuseTrustedKeys({
      sign: 'auto',
      signingKey: a.privateKey,
      reuseTrust: b.publicKey
    })!
    expect(keys.map(k => k.export({ type: 'spki', format: 'pem' }))).toEqual([
      b.publicKey,
      a.publicKey
    ])
    expect(thrown(() => reuseTrustedKeys({ reuseTrust: 'nobody' })).message).toMatch(
      /^reuse-trust: /
    )
  })
})

describe('cosign tag scheme and DSSE', () => {
  it("PAE is the DSSE spec's example", () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world'
    )
  })

  it('an envelope signs the PAE of its in-toto payload', () => {
    const k = ec()
    const key = loadSigningKey(k.privateKey, '')
    const env = JSON.parse(dsseEnvelope(key.privateKey, { a: 1 }).toString()) as {
      payloadType: string
      payload: string
      signatures: { sig: string }[]
    }
    expect(env.payloadType).toBe(IN_TOTO)
    const payload = Buffer.from(env.payload, 'base64')
    expect(JSON.parse(payload.toString())).toEqual({ a: 1 })
    const sig = Buffer.from(env.signatures[0]!.sig, 'base64')
    expect(verify('sha256', pae(IN_TOTO, payload), k.publicKey, sig)).toBe(true)
  })

  it("names cosign's tags and payload", () => {
    const d = `sha256:${'ab'.repeat(32)}`
    expect(cosignTag(d, 'sig')).toBe(`sha256-${'ab'.repeat(32)}.sig`)
    expect(
      JSON.parse(simpleSigningPayload({ registry: 'r:5000', repository: 'a/b' }, d).toString())
    ).toEqual({
      critical: {
        identity: { 'docker-reference': 'r:5000/a/b' },
        image: { 'docker-manifest-digest': d },
        type: 'cosign container image signature'
      },
      optional: null
    })
  })
})

describe('imagesByDigest', () => {
  it('is one entry per digest (a shared build once), images not pushed left out', () => {
    const svc = (name: string, digest: string): ServiceReport => ({
      name,
      image: `r:5000/app:${name}.B1`,
      digest,
      build: 0,
      sharedWith: [],
      cachedSteps: 0,
      totalSteps: 0,
      durationMs: 0
    })
    const out = imagesByDigest([
      svc('web', 'sha256:1'),
      svc('worker', 'sha256:1'),
      svc('api', 'sha256:2'),
      svc('x', '')
    ])
    expect(out.map(o => o.services.map(s => s.name))).toEqual([['web', 'worker'], ['api']])
  })
})
