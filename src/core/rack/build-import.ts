// `convox builds import` over the API (pkg/cli/builds.go BuildsImport, sdk BuildImport), then a
// check of what the rack made: provider/k8s/build.go BuildImport ignores failed pushes and marks the
// new build complete anyway, so status, release and every image are verified here.
import { RemoteError, UserError } from '../errors.js'
import { readExport } from '../export/tarball.js'
import type { Logger } from '../log.js'
import { CLEANUP_CALL, type RackClient, rackRepository } from './client.js'
import { failureReason } from './external-build.js'
import type { RackBuild } from './types.js'

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

interface TarballIndex {
  /** Services, from archive names `<service>.<BUILD_ID>.tar` (the rack's rule: name up to the first dot). */
  services: string[]
  build?: Partial<RackBuild>
}

/**
 * Lists a tarball's services and build.json without unpacking the archives, reading it to the
 * end: a truncated or corrupt tarball is one line naming the file, before anything is sent.
 */
async function readTarballIndex(file: string): Promise<TarballIndex> {
  let contents: Awaited<ReturnType<typeof readExport>>
  try {
    contents = await readExport(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      throw new UserError({ input: 'import', message: `cannot read the tarball ${file} (${code})` })
    }
    const why = (e instanceof Error ? e.message : String(e))
      .split(`${file}: `)
      .join('')
      .replace(/^(?:\w*Error: )+/, '')
    throw new UserError({
      input: 'import',
      message: `${file} is not a complete convox builds export tarball (${why.replace(/\s+/g, ' ')})`
    })
  }
  const services = new Set<string>()
  for (const { name } of contents.entries) {
    const base = name.replace(/^\.\//, '').split('/').pop() ?? ''
    const svc = base.endsWith('.tar') ? base.split('.')[0] : undefined
    if (svc) services.add(svc)
  }
  return { services: [...services].sort(), build: contents.record as Partial<RackBuild> }
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
  // the rack's repository, when none is given, comes from /system: asked before the upload
  const system = options.repository === undefined ? await client.systemGet() : undefined
  // BuildImport copies these from build.json: how a lost answer is looked up
  const imported = await client.buildImport(app, options.tarball, {
    description: index.build.description ?? '',
    manifest: index.build.manifest ?? '',
    logs: index.build.logs ?? ''
  })
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

    const repository = options.repository ?? rackRepository(client, system!, app)
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
    const reason = client.scrub(failureReason(client, e))
    try {
      await client.buildUpdate(
        app,
        buildId,
        { status: 'failed', reason, ended: new Date() },
        CLEANUP_CALL
      )
    } catch (u) {
      logger.warning(
        `rack ${client.host}: could not mark imported build ${buildId} failed: ${u instanceof Error ? u.message : String(u)}`
      )
    }
    if (client.signal?.aborted) throw e
    throw new RemoteError(`rack ${client.host}: import into ${app} failed: ${reason}`, { cause: e })
  }
}
