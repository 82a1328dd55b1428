// Import: `convox builds import` of an export tarball into the rack, each image verified in the
// rack's registry, then the promote. A run of its own: no plan, no build.
import { UserError } from '../errors.js'
import { runImport } from '../rack/index.js'
import { RegistryClient } from '../registry/client.js'
import { parseReference } from '../registry/reference.js'
import { promote } from './promote-step.js'
import type { PipelineResult, Run } from './state.js'

export async function importStage(r: Run, startedAt: number): Promise<PipelineResult> {
  const { settings, rack, logger } = r
  if (!rack) {
    throw new UserError({
      input: 'import',
      message: 'importing needs a rack: set rack-url (or RACK_URL), or convox-password and rack'
    })
  }
  const imported = await logger.group('Import', () =>
    runImport(rack, {
      app: settings.app,
      tarball: settings.import,
      logger,
      verifyImage: async image => {
        const client = new RegistryClient({
          credentials: host =>
            host === image.credentials.registry ? image.credentials : undefined,
          logger,
          signal: r.run.signal
        })
        await client.getManifest(parseReference(image.ref))
      }
    })
  )
  if (settings.promote) await promote(rack, settings.app, imported.releaseId, logger)
  return {
    stage: 'all',
    plan: {
      app: settings.app,
      buildId: imported.buildId,
      manifest: settings.manifest,
      gitSha: imported.build['git-sha'] ?? '',
      description: imported.build.description ?? '',
      development: settings.development,
      services: [],
      builds: []
    },
    buildId: imported.buildId,
    releaseId: imported.releaseId,
    images: imported.images,
    digests: {},
    services: [],
    exportPath: '',
    warnings: r.warnings,
    buildArgNames: [],
    appEnvArgNames: [],
    matrix: { include: [] },
    platforms: '',
    scope: '',
    durationMs: Date.now() - startedAt
  }
}
