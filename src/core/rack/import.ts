// `convox builds import` over the API (pkg/cli/builds.go BuildsImport, sdk BuildImport), then a
// check of what the rack made: provider/k8s/build.go BuildImport ignores failed pushes and marks the
// new build complete anyway, so status, release and every image are verified here.
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import tar from 'tar-stream'
import { UserError } from '../errors.js'
import type { Logger } from '../log.js'
import type { RackClient } from './client.js'
import type { RackBuild, RackSystem } from './types.js'

export interface ImportedImage {
  service: string
  /** `<service>.<new build id>` */
  tag: string
  /** `<repository>:<tag>` */
  ref: string
  repository: string
  /** Credentials for the repository (direct mode: the rack password, masked). */
  credentials: { registry: string; username: string; password: string }
}

/** Resolves true (or nothing) when the image exists; false or a throw when it does not. */
export type ImageVerifier = (image: ImportedImage) => Promise<boolean | void>

export interface ImportOptions {
  app: string
  /** Path of the `convox builds export` tarball. */
  tarball: string
  logger: Logger
  /** Checks each pushed image in the rack's registry (e.g. a registry HEAD of the manifest). */
  verifyImage?: ImageVerifier
  /** Repository the rack pushes to, `host/path`; default: derived from the rack (see below). */
  repository?: string
}

export interface ImportResult {
  buildId: string
  releaseId: string
  build: RackBuild
  /** Service name to image reference in the rack's repository. */
  images: Record<string, string>
  /** The build id and release recorded in the tarball's build.json. */
  source: { buildId: string; releaseId: string }
}

export interface TarballIndex {
  /** Services, from archive names `<service>.<BUILD_ID>.tar` (the rack's rule: name up to the first dot). */
  services: string[]
  build?: Partial<RackBuild>
}

/** Lists a tarball's services and build.json without unpacking the archives. */
export async function readTarballIndex(file: string): Promise<TarballIndex> {
  const services = new Set<string>()
  let build: Partial<RackBuild> | undefined
  const extract = tar.extract()
  extract.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^\.\//, '')
    if (header.type === 'file' && name === 'build.json') {
      const chunks: Buffer[] = []
      stream.on('data', (c: unknown) => void chunks.push(c as Buffer))
      stream.on('end', () => {
        try {
          build = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<RackBuild>
        } catch {
          build = undefined
        }
        next()
      })
      return
    }
    if (header.type === 'file' && name.endsWith('.tar')) {
      const svc = (name.split('/').pop() ?? name).split('.')[0]
      if (svc) services.add(svc)
    }
    stream.on('end', () => next())
    stream.resume()
  })
  try {
    await pipeline(createReadStream(file), createGunzip(), extract)
  } catch (e) {
    throw new UserError({
      input: 'import',
      message: `${file} is not a convox builds export tarball: ${e instanceof Error ? e.message : String(e)}`
    })
  }
  return { services: [...services].sort(), build }
}

/** Where a rack keeps an app's images, as seen through its API's /v2/ registry proxy. */
export function rackRepository(client: RackClient, system: RackSystem, app: string): string {
  // provider/*/repository.go RepositoryPrefix: `<rack>/` on aws, '' elsewhere
  const prefix = system.provider === 'aws' ? `${system.name}/` : ''
  const host =
    client.mode === 'direct'
      ? `${client.host}${client.endpoint.pathname.replace(/\/+$/, '')}`
      : (system['rack-domain'] ?? `api.${system.domain.replace(/^router\./, '')}`)
  return `${host}/${prefix}${app}`
}

export async function runImport(client: RackClient, options: ImportOptions): Promise<ImportResult> {
  const { app, logger } = options
  const index = await readTarballIndex(options.tarball)
  if (!index.build) {
    throw new UserError({ input: 'import', message: `${options.tarball} has no build.json` })
  }
  if (index.services.length === 0) {
    throw new UserError({ input: 'import', message: `${options.tarball} holds no image archives` })
  }
  const source = { buildId: index.build.id ?? '', releaseId: index.build.release ?? '' }
  logger.info(
    `rack ${client.host}: importing build ${source.buildId} (${index.services.join(', ')}) into ${app}`
  )
  const imported = await client.buildImport(app, options.tarball)
  const buildId = imported.id

  try {
    const build = await client.buildGet(app, buildId)
    if (build.status !== 'complete') {
      throw new Error(
        `the rack left imported build ${buildId} ${build.status || 'without a status'}`
      )
    }
    if (!build.release) throw new Error(`the rack made no release for imported build ${buildId}`)
    const release = await client.releaseGet(app, build.release)
    if (release.build !== buildId) {
      throw new Error(`release ${release.id} points to build ${release.build}, not ${buildId}`)
    }

    const repository = options.repository ?? rackRepository(client, await client.systemGet(), app)
    const registry = repository.split('/')[0] ?? ''
    const images: Record<string, string> = {}
    const missing: string[] = []
    for (const service of index.services) {
      const tag = `${service}.${buildId}`
      const ref = `${repository}:${tag}`
      images[service] = ref
      if (!options.verifyImage) continue
      let ok: boolean
      let why = ''
      try {
        ok =
          (await options.verifyImage({
            service,
            tag,
            ref,
            repository,
            credentials: { registry, ...client.credentials }
          })) !== false
      } catch (e) {
        ok = false
        why = `: ${client.scrub(e instanceof Error ? e.message : String(e))}`
      }
      if (!ok) missing.push(`${ref}${why}`)
    }
    if (missing.length > 0) {
      throw new Error(`the rack did not push ${missing.join('; ')}`)
    }
    if (!options.verifyImage) {
      logger.warning(`rack ${client.host}: imported images were not verified (no registry check)`)
    }
    logger.info(`rack ${client.host}: imported build ${buildId}, release ${build.release}`)
    return { buildId, releaseId: build.release, build, images, source }
  } catch (e) {
    // never leave a broken build looking complete: promoting it would fail or run old images
    const reason = client.scrub(e instanceof Error ? e.message : String(e))
    try {
      await client.buildUpdate(app, buildId, { status: 'failed', reason, ended: new Date() })
    } catch (u) {
      logger.warning(
        `rack ${client.host}: could not mark imported build ${buildId} failed: ${u instanceof Error ? u.message : String(u)}`
      )
    }
    throw new Error(`rack ${client.host}: import into ${app} failed: ${reason}`, { cause: e })
  }
}
