// What reuse takes for a signature (src/core/signing/cosign-tags.ts hasValidSignature), against
// the rig's registry: only one by a trusted key over the image's own digest. A forged signature,
// one replayed from another image, or another key's is not; none at all is "unsigned".
import { describe, expect, it } from '@jest/globals'
import { generateKeyPairSync } from 'node:crypto'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'
import {
  attachLayer,
  hasValidSignature,
  SIGNATURE_ANNOTATION,
  signBytes,
  SIMPLE_SIGNING,
  simpleSigningPayload
} from '../../src/core/signing/cosign-tags.js'
import { loadRig, uniqueRepo } from '../helpers/rig.js'

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
