// What reuse takes for a signature (src/core/signing/cosign-tags.ts hasValidSignature), against
// the rig's registry: only one by a trusted key over the image's own digest. A forged signature,
// one replayed from another image, or another key's is not; none at all is "unsigned".
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { noCi } from '../../src/core/commit.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'
import {
  attachLayer,
  checkSignature,
  hasValidSignature,
  SIGNATURE_ANNOTATION,
  signBytes,
  SIMPLE_SIGNING,
  simpleSigningPayload
} from '../../src/core/signing/cosign-tags.js'
import { KeylessSigner } from '../../src/core/signing/keyless.js'
import { keylessTrustFor } from '../../src/core/signing/keyless-trust.js'
import { loadRig, uniqueRepo } from '../helpers/rig.js'
import { githubToken, startSigstoreMock, type SigstoreMock } from '../helpers/sigstore-mock.js'

const rig = loadRig()
const client = new RegistryClient({
  credentials: h =>
    h === rig.registry
      ? { username: rig.registryUsername, password: rig.registryPassword }
      : undefined
})
const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const digest = (c: string): string => `sha256:${c.repeat(64)}`

describe('hasValidSignature', () => {
  it('takes only a trusted key signing this digest', async () => {
    const ref = parseReference(uniqueRepo('sigcheck', rig))
    const repo = { registry: ref.registry, repository: ref.repository }
    const ours = ec()
    const theirs = ec()
    const sign = async (d: string, payloadDigest: string, sig?: Buffer): Promise<void> => {
      const payload = simpleSigningPayload(repo, payloadDigest)
      await attachLayer(client, repo, d, 'sig', {
        mediaType: SIMPLE_SIGNING,
        bytes: payload,
        annotations: {
          [SIGNATURE_ANNOTATION]: (sig ?? signBytes(ours.privateKey, payload)).toString('base64')
        }
      })
    }
    const trusted = [ours.publicKey]

    expect(await hasValidSignature(client, repo, digest('a'), trusted)).toBe('unsigned')
    // Garbage where the signature goes.
    await sign(digest('a'), digest('a'), Buffer.from('not a signature'))
    expect(await hasValidSignature(client, repo, digest('a'), trusted)).toBe('foreign')
    // A valid signature of another image, replayed under this one's .sig tag.
    await sign(digest('b'), digest('c'))
    expect(await hasValidSignature(client, repo, digest('b'), trusted)).toBe('foreign')
    // Another key's.
    const payload = simpleSigningPayload(repo, digest('d'))
    await sign(digest('d'), digest('d'), signBytes(theirs.privateKey, payload))
    expect(await hasValidSignature(client, repo, digest('d'), trusted)).toBe('foreign')
    expect(await hasValidSignature(client, repo, digest('d'), [theirs.publicKey])).toBe('signed')
    // Ours, added beside the forged one: taken.
    await sign(digest('a'), digest('a'))
    expect(await hasValidSignature(client, repo, digest('a'), trusted)).toBe('signed')
  })
})

describe('checkSignature with keyless signatures', () => {
  let mock: SigstoreMock
  let dir: string
  beforeAll(async () => {
    mock = await startSigstoreMock()
    dir = await mkdtemp(path.join(tmpdir(), 'sigcheck-keyless-'))
    await writeFile(path.join(dir, 'trusted_root.json'), mock.trustedRoot)
  })
  afterAll(async () => {
    await mock?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it("takes this repository's main identity over the digest, in two registry round trips", async () => {
    const ref = parseReference(uniqueRepo('sigcheck-keyless', rig))
    const repo = { registry: ref.registry, repository: ref.repository }
    const signAs = async (d: string, gitRef: string): Promise<void> => {
      const signer = new KeylessSigner(
        { fulcioUrl: mock.fulcioUrl, rekorUrl: mock.rekorUrl, tsaUrl: '' },
        async () => githubToken('acme/app', gitRef)
      )
      const s = await signer.signPayload(simpleSigningPayload(repo, d))
      await attachLayer(client, repo, d, 'sig', {
        mediaType: SIMPLE_SIGNING,
        bytes: s.bytes,
        annotations: s.annotations
      })
    }
    const trust = keylessTrustFor(
      {
        reuseTrust: '',
        trustedRefs: [],
        sigstore: {
          fulcioUrl: mock.fulcioUrl,
          rekorUrl: mock.rekorUrl,
          tsaUrl: '',
          trustedRoot: path.join(dir, 'trusted_root.json')
        }
      },
      {
        ...noCi('c0ffee'),
        repository: 'acme/app',
        branch: 'main',
        defaultBranch: 'main',
        runUrl: 'https://github.com/acme/app/actions/runs/1'
      },
      dir,
      true
    )!
    await signAs(digest('a'), 'refs/heads/main')
    await signAs(digest('b'), 'refs/pull/7/merge')
    // Round trips: the .sig manifest, then each payload read until one is trusted.
    let trips = 0
    const counted = Object.create(client) as RegistryClient
    counted.findManifest = (...a) => (trips++, client.findManifest(...a))
    counted.readBlob = (...a) => (trips++, client.readBlob(...a))
    const timed = async (d: string) => {
      trips = 0
      const t = process.hrtime.bigint()
      const r = await checkSignature(counted, repo, d, [], trust)
      const ms = Number(process.hrtime.bigint() - t) / 1e6
      if (process.env.SIGCHECK_TIMES) console.log(`${d.slice(0, 12)}: ${trips} trips, ${ms} ms`)
      return { ...r, trips }
    }
    expect(await timed(digest('a'))).toEqual({ check: 'signed', trips: 2 })
    // Again: the trusted root is read once per run.
    expect(await timed(digest('a'))).toEqual({ check: 'signed', trips: 2 })
    expect(await timed(digest('b'))).toEqual({
      check: 'foreign',
      why: 'reuse key signed by refs/pull/7/merge, not trusted on refs/heads/main',
      trips: 2
    })
    // A keyless signature of another image, replayed under this one's .sig tag.
    const replayed = await client.findManifest({
      ...repo,
      tag: `${digest('a').replace(':', '-')}.sig`
    })
    await client.putManifest(
      { ...repo, tag: `${digest('c').replace(':', '-')}.sig` },
      replayed!.bytes,
      replayed!.mediaType
    )
    expect((await timed(digest('c'))).check).toBe('foreign')
    // Without a keyless checker (a key-only run), a keyless signature is not taken.
    expect(await hasValidSignature(client, repo, digest('a'), [ec().publicKey])).toBe('foreign')
  })
})
