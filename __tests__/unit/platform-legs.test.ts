import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import {
  checkPlatformLegs,
  joinPlatforms,
  legImage,
  legPlan
} from '../../src/core/pipeline/platform-legs.js'
import type { Plan } from '../../src/core/plan.js'
import {
  MediaType,
  sha256,
  type FetchedManifest,
  type ManifestJson,
  type RegistryClient
} from '../../src/core/registry/client.js'
import { formatReference, type ImageReference } from '../../src/core/registry/reference.js'
import { readSettings, type Settings } from '../../src/core/settings.js'
import { cacheName, registryCacheTag } from '../../src/core/trust.js'

const IMAGE = 'reg.example/app:web.BABCDEFGHIJ'

function manifest(json: ManifestJson): FetchedManifest {
  const bytes = Buffer.from(JSON.stringify(json))
  return { bytes, mediaType: json.mediaType ?? '', digest: sha256(bytes), json }
}

/** A registry of tags in memory: what joinPlatforms reads and the index it puts. */
function registry(tags: Record<string, FetchedManifest>) {
  const put: Record<string, { bytes: Buffer; mediaType: string }> = {}
  const client = {
    findManifest: (ref: ImageReference) => Promise.resolve(tags[formatReference(ref)]),
    putManifest: (ref: ImageReference, bytes: Buffer, mediaType: string) => {
      put[formatReference(ref)] = { bytes, mediaType }
      return Promise.resolve(sha256(bytes))
    }
  } as unknown as RegistryClient
  return { client, put }
}

const image = (arch: string): FetchedManifest =>
  manifest({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: `sha256:${arch}`, size: 1 },
    layers: []
  })

describe('legs per platform', () => {
  it('tags a leg image after its platform, beside the build id', () => {
    expect(legImage(IMAGE, 'linux/arm64')).toBe(`${IMAGE}.linux-arm64`)
    expect(legImage(IMAGE, 'linux/arm/v7')).toBe(`${IMAGE}.linux-arm-v7`)
  })

  it('names a platform leg’s caches after its platform too', () => {
    expect(cacheName('web', 'linux/arm64')).toBe('web.linux-arm64')
    expect(cacheName('web')).toBe('web')
    expect(registryCacheTag(cacheName('web', 'linux/amd64'))).toBe('web.linux-amd64.buildcache')
  })

  it('a leg plan retags built services only (image services are copied by finish)', () => {
    const p = {
      services: [
        { name: 'web', image: IMAGE, build: 0 },
        { name: 'cache', image: 'reg.example/app:cache.BABCDEFGHIJ', build: null, from: 'redis' }
      ]
    } as unknown as Plan
    expect(legPlan(p, 'linux/amd64').platformLeg).toBe('linux/amd64')
    expect(legPlan(p, 'linux/amd64').services.map(s => s.image)).toEqual([
      `${IMAGE}.linux-amd64`,
      'reg.example/app:cache.BABCDEFGHIJ'
    ])
  })

  it('joins the legs’ manifests into an OCI index with their platforms', async () => {
    const amd = image('amd')
    const arm = image('arm')
    const { client, put } = registry({
      [`${IMAGE}.linux-amd64`]: amd,
      [`${IMAGE}.linux-arm64`]: arm
    })
    const joined = await joinPlatforms(client, IMAGE, ['linux/amd64', 'linux/arm64'])
    const index = JSON.parse(put[IMAGE]!.bytes.toString()) as ManifestJson
    expect(put[IMAGE]!.mediaType).toBe(MediaType.ociIndex)
    expect(joined).toEqual({ digest: sha256(put[IMAGE]!.bytes), missing: [] })
    expect(index).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          digest: amd.digest,
          size: amd.bytes.length,
          platform: { os: 'linux', architecture: 'amd64' }
        },
        {
          mediaType: MediaType.ociManifest,
          digest: arm.digest,
          size: arm.bytes.length,
          platform: { os: 'linux', architecture: 'arm64' }
        }
      ]
    })
  })

  it('takes a leg’s index apart: its platform’s image and that image’s attestation', async () => {
    const amd = image('amd')
    const legIndex = manifest({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          digest: amd.digest,
          size: 1,
          platform: { os: 'linux', architecture: 'amd64' }
        },
        {
          mediaType: MediaType.ociManifest,
          digest: 'sha256:att',
          size: 1,
          platform: { os: 'unknown', architecture: 'unknown' },
          annotations: {
            'vnd.docker.reference.type': 'attestation-manifest',
            'vnd.docker.reference.digest': amd.digest
          }
        }
      ]
    })
    const { client, put } = registry({ [`${IMAGE}.linux-amd64`]: legIndex })
    await joinPlatforms(client, IMAGE, ['linux/amd64'])
    const index = JSON.parse(put[IMAGE]!.bytes.toString()) as ManifestJson
    expect(index.manifests).toEqual(legIndex.json.manifests)
  })

  it('puts nothing when a platform has no leg image, and names the platform', async () => {
    const { client, put } = registry({ [`${IMAGE}.linux-amd64`]: image('amd') })
    expect(await joinPlatforms(client, IMAGE, ['linux/amd64', 'linux/arm64'])).toEqual({
      digest: '',
      missing: ['linux/arm64']
    })
    expect(put).toEqual({})
  })

  it('a fan-out split by platform needs its platforms', () => {
    const s = (inputs: Record<string, string>): Settings =>
      readSettings(name => inputs[name] ?? '', { env: {}, cwd: '/work/repo' })
    const start = s({ app: 'shop', stage: 'start', legs: 'platforms' })
    expect(() => checkPlatformLegs(start, [])).toThrow(UserError)
    expect(() => checkPlatformLegs(start, [])).toThrow(/legs: platforms/)
    expect(() => checkPlatformLegs(start, ['linux/arm64'])).not.toThrow()
    expect(() => checkPlatformLegs(s({ app: 'shop', legs: 'platforms' }), [])).not.toThrow()
    expect(() => checkPlatformLegs(s({ app: 'shop', stage: 'start' }), [])).not.toThrow()
  })
})
