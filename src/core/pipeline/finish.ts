// Finish: a list of steps run in order (FINISH_STEPS), each reading and adding to what the
// steps before it found. Every image there (image services copied now when a leg did not), the
// entrypoint and the logs, the rack's release (exactly one), the export, the promote.
import { loginsFromSettings } from '../docker-config.js'
import { registryTools, type RegistryTools } from '../engine/index.js'
import { BuildError } from '../errors.js'
import { buildRecord, preciseNow } from '../export/record.js'
import { writeExport, type ExportSource } from '../export/tarball.js'
import { newReleaseId } from '../ids.js'
import type { Plan, PlannedService } from '../plan.js'
import { forEachLimit } from '../pool.js'
import { completeExternalBuild } from '../rack/index.js'
import { getImageConfig, shellJoin } from '../registry/image-config.js'
import { parseReference } from '../registry/reference.js'
import type { ServiceReport } from '../run-environment.js'
import { Redactor } from '../secrets.js'
import { environmentText } from '../review/review-app.js'
import { builtLogs, gatherLegLogs } from './build-logs.js'
import { joinPlatforms } from './platform-legs.js'
import { promote } from './promote-step.js'
import { reviewLinks } from './review.js'
import { signImages } from './sign.js'
import type { Built, Finished, Run, Started } from './state.js'

/** What finish's steps share: the stages' work, and what each step adds. */
export interface Finishing {
  r: Run
  s: Started
  /** What this process built (`all`); undefined in a fan-out's finish stage. */
  built?: Built
  /** Called when the rack takes over the build's bookkeeping (from the release on). */
  handOver: () => void
  tools: RegistryTools
  services: ServiceReport[]
  /** The first service's entrypoint: the rack and build.json keep it; nobody else reads it. */
  entrypoint: string[]
  /** Every build's log, as this run has it. */
  logs: string
  /** The log the rack kept (build.json's `logs`). */
  recordLogs: string
  releaseId: string
  exportPath: string
  reviewUrls: Record<string, string>
}

export interface FinishStep {
  name: string
  run: (f: Finishing) => Promise<void>
}

/** The steps of finish, in order; a new step goes where what it needs is known. */
export const FINISH_STEPS: readonly FinishStep[] = [
  { name: 'images', run: waitForImages },
  { name: 'entrypoint', run: readEntrypoint },
  { name: 'logs', run: collectLogs },
  { name: 'sign', run: signImages },
  { name: 'release', run: registerRelease },
  { name: 'export', run: exportBuild },
  { name: 'promote', run: promoteRelease },
  { name: 'review', run: reviewLinks }
]

export async function finish(
  r: Run,
  s: Started,
  built: Built | undefined,
  handOver: () => void
): Promise<Finished> {
  const { target } = s
  const f: Finishing = {
    r,
    s,
    built,
    handOver,
    tools:
      built?.tools ??
      registryTools(loginsFromSettings(target), target.dockerHubRegistry, r.logger, r.run.signal),
    services: [],
    entrypoint: [],
    logs: '',
    recordLogs: '',
    releaseId: '',
    exportPath: '',
    reviewUrls: {}
  }
  for (const step of FINISH_STEPS) await step.run(f)
  return {
    releaseId: f.releaseId,
    services: f.services,
    exportPath: f.exportPath,
    reviewUrls: f.reviewUrls
  }
}

/** What this run built, else each image looked up; a build a leg failed gets no release. */
async function waitForImages(f: Finishing): Promise<void> {
  const { r, s } = f
  f.services = f.built?.result.services ?? (await gatherImages(r, s, f.tools, !s.rackFailed))
  if (s.rackFailed) {
    throw new BuildError(
      `build ${s.plan.buildId} was failed on the rack (by a build leg, its log says why): it gets no release`
    )
  }
}

async function readEntrypoint(f: Finishing): Promise<void> {
  const { r, s } = f
  const first = s.plan.services[0]
  if (!s.target.push || !first || !(r.rack || r.settings.export)) return
  const image = parseReference(first.image)
  f.entrypoint = (await getImageConfig(f.tools.client, image, s.target.platforms[0])).entrypoint
}

async function collectLogs(f: Finishing): Promise<void> {
  const { r, s, built } = f
  f.logs = built
    ? builtLogs(s.plan, built.result)
    : r.rack && s.rackBuildId
      ? await gatherLegLogs(
          r.rack,
          s,
          r.settings.legs === 'platforms' ? s.target.platforms : undefined
        )
      : ''
  f.recordLogs = f.logs
}

/** The rack's release (exactly one, the build marked complete), else a release id of our own. */
async function registerRelease(f: Finishing): Promise<void> {
  const { r, s } = f
  if (!r.rack || !s.rackBuildId) {
    f.releaseId = newReleaseId()
    return
  }
  f.handOver()
  const done = await completeExternalBuild(r.rack, {
    app: r.settings.app,
    buildId: s.rackBuildId,
    logs: f.logs,
    entrypoint: f.entrypoint,
    // A review app's one release holds the app's env (review-env over it), not a fork of none.
    env: r.review ? environmentText(r.review.env) : undefined
  })
  f.releaseId = done.releaseId
  f.recordLogs = done.build.logs || f.logs
}

async function exportBuild(f: Finishing): Promise<void> {
  const { r, s } = f
  const { plan: p, target } = s
  const file = r.settings.export
  if (!file) return
  f.exportPath = await r.logger.group('Export', async () => {
    const record = buildRecord({
      id: p.buildId,
      app: p.app,
      description: r.description,
      entrypoint: shellJoin(f.entrypoint),
      gitSha: r.gitSha,
      logs: f.recordLogs,
      manifest: p.manifestText,
      release: f.releaseId,
      repository: p.registry,
      status: 'complete',
      started: s.started,
      ended: preciseNow(),
      secrets: recordSecrets(r.run.secrets, p)
    })
    const written = await writeExport(file, record, exportSources(s, f.tools, f.built), {
      tempDir: r.run.tempDir,
      platforms: target.platforms,
      signal: r.run.signal
    })
    r.logger.info(`Exported build ${p.buildId} to ${written.path}`)
    return written.path
  })
}

async function promoteRelease(f: Finishing): Promise<void> {
  const { r } = f
  if (r.rack && r.settings.promote) await promote(r.rack, r.settings.app, f.releaseId, r.logger)
}

/**
 * The finish stage of a fan-out: each service's <service>.<BUILD_ID> looked up in the
 * repository; an image service a leg did not copy is copied now; a missing build is an error
 * naming its services (its leg failed or was cancelled).
 */
async function gatherImages(
  r: Run,
  s: Started,
  tools: RegistryTools,
  copy: boolean
): Promise<ServiceReport[]> {
  const { plan: p } = s
  const reports = new Map<string, ServiceReport>()
  const missing: string[] = []
  const byPlatform = r.settings.legs === 'platforms'
  await r.logger.group(`Images of build ${p.buildId}`, () =>
    forEachLimit(p.services, 8, async svc => {
      if (byPlatform && svc.build !== null) {
        // Into a build failed already, no index is put either.
        if (!copy) return
        const joined = await joinPlatforms(tools.client, svc.image, s.target.platforms)
        if (joined.missing.length > 0) {
          missing.push(`${svc.name} (${joined.missing.join(', ')})`)
          return
        }
        r.logger.info(
          `[${svc.name}] ${svc.image} ${joined.digest}: index of ${s.target.platforms.join(', ')}`
        )
        reports.set(svc.name, serviceReport(svc, joined.digest))
        return
      }
      const found = await tools.client.findManifest(parseReference(svc.image))
      let digest = found?.digest ?? ''
      if (!found && svc.build === null && svc.from) {
        // Into a build failed already, nothing more is copied; it is no leg's image either.
        if (!copy) return
        r.logger.info(`[${svc.name}] copying ${svc.from} to ${svc.image}`)
        const copied = await tools.copyImage(
          svc.from,
          svc.image,
          r.run.signal ?? new AbortController().signal,
          s.target.platforms
        )
        digest = copied.digest
      } else if (!found) {
        missing.push(svc.name)
        return
      }
      r.logger.info(`[${svc.name}] ${svc.image} ${digest}`)
      reports.set(svc.name, serviceReport(svc, digest))
    })
  )
  if (missing.length > 0) {
    // In the plan's order, whichever leg answered first.
    const names = p.services.flatMap(x => missing.filter(m => m.split(' ')[0] === x.name))
    throw new BuildError(
      `build ${p.buildId} has no image for ${names.join(', ')} in ${p.registry}: their build leg failed or was cancelled`
    )
  }
  return p.services.flatMap(x => reports.get(x.name) ?? [])
}

/** A service finish found in the registry (nothing of its build is known here). */
function serviceReport(svc: PlannedService, digest: string): ServiceReport {
  return {
    name: svc.name,
    image: svc.image,
    digest,
    build: svc.build,
    sharedWith: [],
    cachedSteps: 0,
    totalSteps: 0,
    durationMs: 0
  }
}

/** Where the export reads each service's image from: the registry, or BuildKit's OCI archive. */
function exportSources(s: Started, tools: RegistryTools, built?: Built): ExportSource[] {
  const client = tools.client
  return s.plan.services.map((svc): ExportSource => {
    if (s.target.push) return { service: svc.name, client, image: parseReference(svc.image) }
    if (svc.build !== null) {
      return { service: svc.name, ociTar: built?.result.ociArchives[svc.build] ?? '' }
    }
    return { service: svc.name, client, image: parseReference(svc.from ?? '') }
  })
}

/**
 * The secrets build.json must not hold. A value of the app's env that convox.yml itself spells
 * out is the repository's text, which the record keeps as the rack does (`manifest`).
 */
function recordSecrets(secrets: Redactor, p: Plan): Redactor {
  const envForms = new Redactor(
    p.builds.flatMap(b => (b.secretArgs ?? []).map(n => b.argValues[n] ?? ''))
  ).list()
  return new Redactor(
    secrets.list().filter(v => !(envForms.includes(v) && p.manifestText.includes(v)))
  )
}
