// Legs per platform (legs: platforms): each leg builds one platform of its services and pushes it
// as <service>.<BUILD_ID>.<os>-<arch>[-<variant>]; finish joins a service's platform images into
// the OCI index <service>.<BUILD_ID> in the registry (descriptors only: nothing is pulled). The
// leg tags keep the build id's exact tag free for the index the rack runs, and never match a
// reuse tag (`<service>.<key>`, lowercase hex) or a cache tag (`<service>.buildcache...`).
import { UserError } from '../errors.js'
import type { Plan, PlatformLegs } from '../plan.js'
import {
  MediaType,
  isIndexMediaType,
  type Descriptor,
  type RegistryClient
} from '../registry/client.js'
import { parsePlatform, pickPlatforms } from '../registry/index-platforms.js'
import { formatReference, parseReference } from '../registry/reference.js'
import type { Settings } from '../settings.js'
import { platformTagPart } from '../trust.js'

/** The image a platform leg pushes for a service's image `<repo>:<service>.<BUILD_ID>`. */
export function legImage(image: string, platform: string): string {
  return `${image}.${platformTagPart(platform)}`
}

/** The matrix's platform legs, when the run splits by platform. */
export function platformLegsOf(settings: Settings, platforms: string[]): PlatformLegs | undefined {
  if (settings.legs !== 'platforms') return undefined
  return { platforms, runners: settings.platformRunners }
}

/** A fan-out's legs per platform need the platforms to split: given, or the app's BuildArch. */
export function checkPlatformLegs(settings: Settings, platforms: string[]): void {
  if (settings.legs === 'platforms' && settings.stage !== 'all' && platforms.length === 0) {
    throw new UserError({
      input: 'legs',
      message:
        'legs: platforms splits the build by platform: set platforms (e.g. linux/amd64,linux/arm64)'
    })
  }
}

/** A platform leg's plan: its built services pushed under their platform's leg tag. */
export function legPlan(p: Plan, platform: string): Plan {
  return {
    ...p,
    platformLeg: platform,
    services: p.services.map(s =>
      s.build === null ? s : { ...s, image: legImage(s.image, platform) }
    )
  }
}

export type Joined = { digest: string; missing: [] } | { digest: ''; missing: string[] }

/**
 * The index <service>.<BUILD_ID> of the images the legs pushed, one per platform, put in the
 * registry; or the platforms no leg pushed (nothing is put then).
 */
export async function joinPlatforms(
  client: RegistryClient,
  image: string,
  platforms: string[]
): Promise<Joined> {
  const found = await Promise.all(
    platforms.map(async platform => {
      const ref = parseReference(legImage(image, platform))
      return { platform, ref, manifest: await client.findManifest(ref) }
    })
  )
  const missing = found.filter(f => !f.manifest).map(f => f.platform)
  if (missing.length > 0) return { digest: '', missing }
  const manifests = found.flatMap(({ platform, ref, manifest }): Descriptor[] => {
    const m = manifest!
    if (!isIndexMediaType(m.mediaType)) {
      return [
        {
          mediaType: m.mediaType,
          digest: m.digest,
          size: m.bytes.length,
          platform: parsePlatform(platform)
        }
      ]
    }
    // A leg's push that is an index itself (attestations beside the image): its platform's part.
    const kept = pickPlatforms(m.json, [platform]).kept
    if (kept.length === 0) {
      throw new UserError(`${formatReference(ref)} has no ${platform} image`)
    }
    return kept
  })
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }
  const bytes = Buffer.from(JSON.stringify(index))
  const digest = await client.putManifest(parseReference(image), bytes, MediaType.ociIndex)
  return { digest, missing: [] }
}
