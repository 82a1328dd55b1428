// Image services (`image:` in convox.yml) copied registry to registry into the app's repository,
// beside the builds: kept apart from the builds because a copy has no cache, reuse or retries.
import type { Logger } from '../log.js'
import type { Plan, PlannedService } from '../plan.js'
import { BuildFailure } from './run-build.js'

/** An image service's copy: the pushed digest, the platforms copied and those it lacks. */
export interface CopiedImage {
  digest: string
  platforms: string[]
  missing: string[]
}

/**
 * Copies an image registry to registry (the registry client): every platform of an index, or
 * only `platforms` when some are given.
 */
export type CopyImage = (
  from: string,
  to: string,
  signal: AbortSignal,
  platforms: string[]
) => Promise<CopiedImage>

/** What a copied service reports. */
export interface CopyResult {
  digest: string
  durationMs: number
}

/**
 * The image services to copy: those of the leg (`wanted`) when pushing with a registry client;
 * without a client none, with a warning.
 */
export function imageCopies(
  plan: Plan,
  wanted: (service: string) => boolean,
  push: boolean,
  copyImage: CopyImage | undefined,
  warn: (message: string) => void
): PlannedService[] {
  if (push && !copyImage && plan.services.some(s => s.build === null)) {
    warn('image services were not copied into the repository: no registry client available')
  }
  if (!push || !copyImage) return []
  return plan.services.filter(s => s.build === null && s.from && wanted(s.name))
}

export interface CopyContext {
  copyImage: CopyImage
  platforms: string[]
  /** Docker Hub or its mirror (the registry client copies docker.io images from it): for logs. */
  dockerHubRegistry?: string
  logger: Logger
  warn: (message: string) => void
  signal: AbortSignal
}

/** Copies one image service; a failure is the service's BuildFailure, of its cause's kind. */
export async function copyImageService(s: PlannedService, ctx: CopyContext): Promise<CopyResult> {
  const from = s.from ?? ''
  const t0 = Date.now()
  const hub =
    ctx.dockerHubRegistry && ctx.dockerHubRegistry !== 'docker.io'
      ? ` (Docker Hub images via ${ctx.dockerHubRegistry})`
      : ''
  ctx.logger.info(`[${s.name}] copying ${from} to ${s.image}${hub}`)
  try {
    const c = await ctx.copyImage(from, s.image, ctx.signal, ctx.platforms)
    if (c.missing.length > 0) {
      ctx.warn(
        `${s.name}: ${from} has no ${c.missing.join(', ')} image: copied ${c.platforms.join(', ') || 'the image it has'}`
      )
    }
    return { digest: c.digest, durationMs: Date.now() - t0 }
  } catch (e) {
    throw new BuildFailure([s.name], `copying ${from}: ${(e as Error).message}`, '', {
      cause: e
    })
  }
}
