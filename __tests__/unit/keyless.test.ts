// Keyless signing and its verification for reuse, against @sigstore/mock's Fulcio, Rekor and
// timestamp authority served on loopback (helpers/sigstore-mock.ts) with minted GitHub-like OIDC
// tokens: one certificate per run, cosign's annotations (sigstore/cosign pkg/oci/static), the
// provenance's v0.3 bundle, and which identities reuse trusts (the scope rule of
// src/ci/trust.ts refScope: the same repository on a protected ref).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { bundleFromJSON } from '@sigstore/bundle'
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { noCi, type CiContext } from '../../src/core/commit.js'
import { RemoteError, UserError } from '../../src/core/errors.js'
import type { RunEnvironment } from '../../src/core/run-environment.js'
import { Redactor } from '../../src/core/secrets.js'
import {
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  REKOR_BUNDLE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  TIMESTAMP_ANNOTATION
} from '../../src/core/signing/cosign-tags.js'
import { loadSigningKey } from '../../src/core/signing/key.js'
import { KeylessSigner } from '../../src/core/signing/keyless.js'
import {
  keylessTrustFor,
  reuseTrustedIdentities,
  type KeylessTrust
} from '../../src/core/signing/keyless-trust.js'
import { certIdentity } from '../../src/core/signing/keyless-verify.js'
import { chooseSigner } from '../../src/core/signing/signer.js'
import { isProtectedRef } from '../../src/core/trust.js'
import {
  GITHUB_ISSUER,
  githubToken,
  startSigstoreMock,
  type SigstoreMock
} from '../helpers/sigstore-mock.js'

let mock: SigstoreMock
let other: SigstoreMock
let dir: string
let rootFile: string

beforeAll(async () => {
  ;[mock, other] = await Promise.all([startSigstoreMock(), startSigstoreMock()])
  dir = await mkdtemp(path.join(tmpdir(), 'keyless-'))
  rootFile = path.join(dir, 'trusted_root.json')
  await writeFile(rootFile, mock.trustedRoot)
})
afterAll(async () => {
  await Promise.all([mock?.close(), other?.close()])
  if (dir) await rm(dir, { recursive: true, force: true })
})

const instance = (m: SigstoreMock, o: { rekor?: boolean; tsa?: boolean } = {}) => ({
  fulcioUrl: m.fulcioUrl,
  rekorUrl: o.rekor === false ? '' : m.rekorUrl,
  tsaUrl: o.tsa ? m.tsaUrl : ''
})

const signerFor = (m: SigstoreMock, repo: string, ref: string, o = {}): KeylessSigner =>
  new KeylessSigner(instance(m, o), async () => githubToken(repo, ref))

const ci = (o: Partial<CiContext>): CiContext => ({
  ...noCi('c0ffee'),
  service: 'github',
  repository: 'acme/app',
  runUrl: 'https://github.com/acme/app/actions/runs/1',
  defaultBranch: 'main',
  branch: 'main',
  ...o
})

const sigstoreSettings = (reuseTrust = '') => ({
  reuseTrust,
  trustedRefs: ['release/*'],
  sigstore: { ...instance(mock), trustedRoot: rootFile }
})

const trustOn = (c: CiContext, reuseTrust = ''): KeylessTrust =>
  keylessTrustFor(sigstoreSettings(reuseTrust), c, dir, true)!

const payload = (n: number): Buffer =>
  Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': `sha256:${n}` } } }))

describe('KeylessSigner', () => {
  it('asks Fulcio once for a run however many images it signs; cosign annotations on each', async () => {
    const before = mock.calls.fulcio
    const signer = signerFor(mock, 'acme/app', 'refs/heads/main', { tsa: true })
    const signed = await Promise.all([1, 2, 3].map(n => signer.signPayload(payload(n))))
    const att = await signer.attest({ _type: 'https://in-toto.io/Statement/v1' }, 'slsa')
    expect(mock.calls.fulcio - before).toBe(1)
    for (const s of [...signed, att]) {
      expect(s.annotations[CERTIFICATE_ANNOTATION]).toMatch(/^-----BEGIN CERTIFICATE-----/)
      // the chain up to the root, which the trusted root holds
      const body = (pem: string): string => pem.replace(/-----[A-Z ]+-----|\s/g, '')
      expect(body(s.annotations[CHAIN_ANNOTATION]!)).toBe(body(mock.fulcioRootPem))
      const rekor = JSON.parse(s.annotations[REKOR_BUNDLE_ANNOTATION]!) as {
        SignedEntryTimestamp: string
        Payload: { body: string; logIndex: number; logID: string; integratedTime: number }
      }
      expect(rekor.SignedEntryTimestamp.length).toBeGreaterThan(0)
      expect(rekor.Payload.logID).toMatch(/^[0-9a-f]{64}$/)
      expect(JSON.parse(s.annotations[TIMESTAMP_ANNOTATION]!)).toEqual({
        SignedRFC3161Timestamp: expect.any(String)
      })
    }
    expect(att.annotations[SIGNATURE_ANNOTATION]).toBe('')
    expect(att.annotations.predicateType).toBe('slsa')
    // The provenance's bundle: v0.3, a DSSE envelope, verified by @sigstore/verify with its
    // timestamp (the mock's Rekor logs a DSSE entry as proposed, where Rekor canonicalizes it:
    // its log entry is left out here; cosign checks it in the rig test).
    expect(att.bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json')
    const verifier = new Verifier(
      toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(mock.trustedRoot))),
      { tlogThreshold: 0, tsaThreshold: 1 }
    )
    const bundle = bundleFromJSON(att.bundle)
    bundle.verificationMaterial.tlogEntries = []
    const who = verifier.verify(toSignedEntity(bundle))
    expect(who.identity?.subjectAlternativeName).toBe(
      'https://github.com/acme/app/.github/workflows/build.yml@refs/heads/main'
    )
  })

  it('names the identity in the certificate: repository, ref, issuer', async () => {
    const s = await signerFor(mock, 'acme/app', 'refs/pull/7/merge').signPayload(payload(1))
    expect(certIdentity(s.annotations[CERTIFICATE_ANNOTATION]!)).toEqual({
      subject: 'https://github.com/acme/app/.github/workflows/build.yml@refs/pull/7/merge',
      issuer: GITHUB_ISSUER,
      repository: 'https://github.com/acme/app',
      ref: 'refs/pull/7/merge'
    })
  })

  it('with no transparency log, timestamps: no Rekor bundle, and it still verifies', async () => {
    const s = await signerFor(mock, 'acme/app', 'refs/heads/main', {
      rekor: false,
      tsa: true
    }).signPayload(payload(1))
    expect(s.annotations[REKOR_BUNDLE_ANNOTATION]).toBeUndefined()
    expect(s.annotations[TIMESTAMP_ANNOTATION]).toBeDefined()
    expect(await trustOn(ci({})).check(payload(1), s.annotations)).toMatchObject({ trusted: true })
  })

  it("a Sigstore service's refusal: one line naming the instance, not the token", async () => {
    const token = githubToken('acme/app', 'refs/heads/main')
    // Fulcio's path on the Rekor server: a 404.
    const signer = new KeylessSigner(
      { fulcioUrl: mock.rekorUrl, rekorUrl: mock.rekorUrl, tsaUrl: '' },
      async () => token
    )
    const e = await signer.signPayload(payload(1)).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RemoteError)
    expect((e as Error).message).toMatch(
      new RegExp(
        `^keyless signing through Sigstore \\(${mock.rekorUrl}, ${mock.rekorUrl}\\): .*404`
      )
    )
    expect((e as Error).message).not.toContain(token.split('.')[1])
    expect((e as Error).message).not.toContain('\n')
  })
})

describe('KeylessTrust (reuse by identity)', () => {
  const signed = async (repo: string, ref: string, m = mock) =>
    (await signerFor(m, repo, ref).signPayload(payload(1))).annotations

  it("trusts this repository's protected refs (default branch, tags, trusted-refs)", async () => {
    const main = trustOn(ci({}))
    for (const ref of ['refs/heads/main', 'refs/tags/v1.2', 'refs/heads/release/3']) {
      expect(await main.check(payload(1), await signed('acme/app', ref))).toMatchObject({
        trusted: true
      })
    }
  })

  it("does not trust a pull request's identity on main, and says so in one line", async () => {
    const verdict = await trustOn(ci({})).check(
      payload(1),
      await signed('acme/app', 'refs/pull/7/merge')
    )
    expect(verdict).toEqual({
      trusted: false,
      why: 'reuse key signed by refs/pull/7/merge, not trusted on refs/heads/main'
    })
  })

  it("trusts a branch run's own ref, not another branch's", async () => {
    const feature = trustOn(ci({ branch: 'feature' }))
    expect(
      await feature.check(payload(1), await signed('acme/app', 'refs/heads/feature'))
    ).toMatchObject({ trusted: true })
    expect(await feature.check(payload(1), await signed('acme/app', 'refs/heads/other'))).toEqual({
      trusted: false,
      why: 'reuse key signed by refs/heads/other, not trusted on refs/heads/feature'
    })
  })

  it("does not trust another repository's main unless reuse-trust names its identity", async () => {
    const annotations = await signed('evil/app', 'refs/heads/main')
    expect(await trustOn(ci({})).check(payload(1), annotations)).toEqual({
      trusted: false,
      why: 'reuse key signed by https://github.com/evil/app/.github/workflows/build.yml@refs/heads/main, not trusted on refs/heads/main'
    })
    const widened = trustOn(
      ci({}),
      'identity: https://github.com/evil/*/.github/workflows/*.yml@refs/heads/main'
    )
    expect(await widened.check(payload(1), annotations)).toMatchObject({ trusted: true })
  })

  it('does not take a repository of the same name on an unknown host for this one', async () => {
    const annotations = await signed('acme/app', 'refs/heads/main')
    expect(await trustOn(ci({})).check(payload(1), annotations)).toMatchObject({ trusted: true })
    // No run page: the CI's host is not known, so no certificate is this repository's.
    expect(await trustOn(ci({ runUrl: '' })).check(payload(1), annotations)).toMatchObject({
      trusted: false
    })
    const elsewhere = ci({ runUrl: 'https://gitlab.example.com/acme/app/-/jobs/1' })
    expect(await trustOn(elsewhere).check(payload(1), annotations)).toMatchObject({
      trusted: false
    })
  })

  it('refuses forged signatures: another CA, another payload, a bad signature, a stripped log entry', async () => {
    const trust = trustOn(ci({}))
    const good = await signed('acme/app', 'refs/heads/main')
    const refusals = [
      await trust.check(payload(1), await signed('acme/app', 'refs/heads/main', other)),
      await trust.check(payload(2), good),
      await trust.check(payload(1), {
        ...good,
        [SIGNATURE_ANNOTATION]: Buffer.alloc(70, 1).toString('base64')
      }),
      await trust.check(payload(1), { ...good, [REKOR_BUNDLE_ANNOTATION]: '' })
    ]
    for (const r of refusals) {
      expect(r).toMatchObject({
        trusted: false,
        why: expect.stringMatching(/^its keyless signature does not verify \(.+\)$/)
      })
    }
  })

  it('names whom the verified certificate names: a second certificate hidden in the annotation is refused', async () => {
    // An attacker signs with a real certificate of their own (another repository), and puts the
    // DER of this repository's main certificate before it, without PEM lines: the identity must
    // come from the certificate that verified, and the annotation must hold PEM blocks only.
    const trust = trustOn(ci({}))
    const theirs = await signed('evil/app', 'refs/heads/main')
    const mains = await signed('acme/app', 'refs/heads/main')
    const der = (pemText: string): string =>
      pemText.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')
    const forged = {
      ...theirs,
      [CERTIFICATE_ANNOTATION]: `${der(mains[CERTIFICATE_ANNOTATION]!)}\n${theirs[CERTIFICATE_ANNOTATION]!}`
    }
    expect(await trust.check(payload(1), forged)).toMatchObject({ trusted: false })
    expect(await trust.check(payload(1), theirs)).toMatchObject({
      trusted: false,
      why: expect.stringMatching(/evil\/app/)
    })
  })

  it('a logged signature stands on its log entry: a TSA time beside it is not read', async () => {
    const s = await signerFor(mock, 'acme/app', 'refs/heads/main', { tsa: true }).signPayload(
      payload(1)
    )
    const garbled: Record<string, string> = {
      ...s.annotations,
      [TIMESTAMP_ANNOTATION]: '{"SignedRFC3161Timestamp":"AAAA"}'
    }
    expect(await trustOn(ci({})).check(payload(1), garbled)).toMatchObject({ trusted: true })
    // Without the log entry the timestamp is what counts.
    const timestampOnly = { ...garbled }
    delete timestampOnly[REKOR_BUNDLE_ANNOTATION]
    expect(await trustOn(ci({})).check(payload(1), timestampOnly)).toMatchObject({ trusted: false })
  })

  it('a trusted root it cannot read: not reused, saying which root', async () => {
    const trust = keylessTrustFor(
      {
        ...sigstoreSettings(),
        sigstore: { ...instance(mock), trustedRoot: path.join(dir, 'missing.json') }
      },
      ci({}),
      dir,
      true
    )!
    expect(await trust.check(payload(1), await signed('acme/app', 'refs/heads/main'))).toEqual({
      trusted: false,
      why: expect.stringMatching(
        /^cannot check its keyless signature: trusted root .*missing\.json: .*ENOENT/
      )
    })
  })

  it('is off with reuse-trust: any, and without keyless signing unless identities are named', () => {
    expect(keylessTrustFor(sigstoreSettings('any'), ci({}), dir, true)).toBeUndefined()
    expect(keylessTrustFor(sigstoreSettings(''), ci({}), dir, false)).toBeUndefined()
    expect(
      keylessTrustFor(sigstoreSettings('identity: https://x/*'), ci({}), dir, false)
    ).toBeDefined()
    expect(
      reuseTrustedIdentities('-----BEGIN PUBLIC KEY-----\nidentity: a/*\n  Identity:  b@refs/x\n')
    ).toEqual(['a/*', 'b@refs/x'])
  })
})

describe('isProtectedRef', () => {
  it('follows the scope rule: tags, the default branch (main/master when unnamed), trusted-refs', () => {
    const p = { defaultBranch: 'trunk', trustedRefs: ['release/*'] }
    expect(isProtectedRef('refs/tags/v1', p)).toBe(true)
    expect(isProtectedRef('refs/heads/trunk', p)).toBe(true)
    expect(isProtectedRef('refs/heads/main', p)).toBe(false)
    expect(isProtectedRef('refs/heads/release/1', p)).toBe(true)
    expect(isProtectedRef('refs/pull/7/merge', p)).toBe(false)
    expect(isProtectedRef('refs/heads/master', { defaultBranch: '', trustedRefs: [] })).toBe(true)
  })
})

describe('chooseSigner', () => {
  const notices: string[] = []
  const warnings: string[] = []
  const env = (token?: string | Error): RunEnvironment =>
    ({
      secrets: new Redactor(),
      logger: { info: (m: string) => notices.push(m), warning: (m: string) => warnings.push(m) },
      idToken: async (audience: string) => {
        if (token instanceof Error) throw token
        return audience === 'sigstore' ? token : undefined
      }
    }) as unknown as RunEnvironment
  const key = loadSigningKey(
    generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' }
    }).privateKey,
    ''
  )
  const s = (sign: 'auto' | 'keyless' | 'key' | 'off', rekorUrl = mock.rekorUrl) => ({
    sign,
    sigstore: { ...instance(mock), rekorUrl, trustedRoot: '' }
  })

  it('auto: keyless with a token (a secret from then on), else the key, else nothing', async () => {
    const token = githubToken('acme/app', 'refs/heads/main')
    const run = env(token)
    expect((await chooseSigner(s('auto'), run, key))?.kind).toBe('keyless')
    expect(run.secrets.redact(`token ${token}`)).toBe('token ***')
    expect((await chooseSigner(s('auto'), env(), key))?.kind).toBe('key')
    expect(await chooseSigner(s('auto'), env(), undefined)).toBeUndefined()
    expect((await chooseSigner(s('key'), env(token), key))?.kind).toBe('key')
    expect(await chooseSigner(s('off'), env(token), key)).toBeUndefined()
  })

  it("auto keeps a private repository's name out of the public log; keyless or a private instance sign", async () => {
    const token = githubToken('acme/app', 'refs/heads/main', { repository_visibility: 'private' })
    const publicLog = 'https://rekor.sigstore.dev'
    notices.length = 0
    expect((await chooseSigner(s('auto', publicLog), env(token), key))?.kind).toBe('key')
    expect(notices).toEqual([
      expect.stringMatching(/^Not signing keylessly: the repository is private/)
    ])
    expect((await chooseSigner(s('keyless', publicLog), env(token), key))?.kind).toBe('keyless')
    expect((await chooseSigner(s('auto'), env(token), key))?.kind).toBe('keyless')
    const open = githubToken('acme/app', 'refs/heads/main', { repository_visibility: 'public' })
    expect((await chooseSigner(s('auto', publicLog), env(open), key))?.kind).toBe('keyless')
    // A token that does not say (Buildkite's, CircleCI's): not to the public log on auto, however
    // the URL is written.
    notices.length = 0
    const silent = githubToken('acme/app', 'refs/heads/main')
    expect((await chooseSigner(s('auto', `${publicLog}/`), env(silent), key))?.kind).toBe('key')
    expect(notices).toEqual([
      expect.stringMatching(
        /^Not signing keylessly: the CI's token does not say the repository is public/
      )
    ])
  })

  it("a run building a pull request's code with the base's identity (pull_request_target) signs nothing keylessly", async () => {
    const untrusted = {
      kind: 'untrusted' as const,
      name: 'pr-7',
      reason: 'pull_request_target from acme/app'
    }
    const base = githubToken('acme/app', 'refs/heads/main')
    notices.length = 0
    warnings.length = 0
    expect((await chooseSigner(s('auto'), env(base), key, untrusted))?.kind).toBe('key')
    expect(notices).toEqual([
      expect.stringMatching(
        /^Not signing keylessly: this run builds pull_request_target from acme\/app, but the CI's OIDC token names refs\/heads\/main/
      )
    ])
    expect(await chooseSigner(s('keyless'), env(base), key, untrusted)).toBeUndefined()
    expect(warnings).toEqual([expect.stringMatching(/^Images not signed: this run builds/)])
    // A pull_request run's token names the pull request: its own identity, signed.
    const pr = githubToken('acme/app', 'refs/pull/7/merge')
    expect((await chooseSigner(s('auto'), env(pr), key, untrusted))?.kind).toBe('keyless')
  })

  it('the token service failing: auto goes on with the key in one line; keyless is a remote failure', async () => {
    notices.length = 0
    const down = new Error('HTTP 503')
    expect((await chooseSigner(s('auto'), env(down), key))?.kind).toBe('key')
    expect(notices).toEqual(["Not signing keylessly: the CI's OIDC token service failed: HTTP 503"])
    await expect(chooseSigner(s('keyless'), env(down), key)).rejects.toBeInstanceOf(RemoteError)
  })

  it('keyless without a token: one line naming sign and what gives one', async () => {
    const e = await chooseSigner(s('keyless'), env(), key).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(UserError)
    expect((e as Error).message).toMatch(/sign: keyless needs the CI's OIDC token.*id-token: write/)
  })
})
