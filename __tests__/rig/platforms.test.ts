// Multi-platform builds on the rig, for both engines: `platforms: linux/amd64,linux/arm64` gives
// one OCI index per service in the registry (its digest in the result), image services copied
// with every platform or only those asked for, and an export that holds each index whole, which
// skopeo imports the rack's way (3.25.3: `copy --all`) with the same digest, and which our import
// path accepts on the test rack. The base image is the stand-in's busybox:multi (amd64 + arm64,
// seeded by scripts/rig/up.sh); RUN steps on arm64 run under QEMU (binfmt_misc, set up by up.sh).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import * as tar from 'tar-stream'
import { buildPlan, type EngineSettings } from '../../src/core/engine/index.js'
import { readTar } from '../../src/core/export/oci-archive.js'
import { buildRecord } from '../../src/core/export/record.js'
import { readExport, writeExport, type ExportSource } from '../../src/core/export/tarball.js'
import { silentLogger } from '../../src/core/log.js'
import type { Plan } from '../../src/core/plan.js'
import { RackClient } from '../../src/core/rack/client.js'
import { runImport } from '../../src/core/rack/build-import.js'
import {
  MediaType,
  RegistryClient,
  sha256,
  type ManifestJson
} from '../../src/core/registry/client.js'
import { getImageConfig } from '../../src/core/registry/image-config.js'
import { parseReference, withDigest } from '../../src/core/registry/reference.js'
import { Redactor } from '../../src/core/secrets.js'
import { buildId, makePlan, rigEngineSettings, rigRunEnvironment } from '../helpers/engine-plan.js'
import { captureLogger } from '../helpers/logger.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'
import { loadRig, registryCreds, skopeo, uniqueRepo, type Rig } from '../helpers/rig.js'

let rig: Rig
let client: RegistryClient
let root: string
let rack: RackServer

const BOTH = ['linux/amd64', 'linux/arm64']

beforeAll(async () => {
  rig = loadRig()
  const logins: Record<string, { username: string; password: string }> = {
    [rig.registry]: { username: rig.registryUsername, password: rig.registryPassword },
    [rig.hubRegistry]: { username: rig.hubUsername, password: rig.hubPassword }
  }
  client = new RegistryClient({ credentials: h => logins[h], dockerHubRegistry: rig.hubRegistry })
  root = await mkdtemp(path.join(tmpdir(), 'platforms-app-'))
  const file = async (name: string, text: string) => {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true })
    await writeFile(path.join(root, name), text)
  }
  const salt = `${Date.now()}-${Math.random()}`
  // COPY only: nothing runs for the target platform.
  await file('copy/Dockerfile', 'FROM busybox:multi\nCOPY hello.txt /hello.txt\n')
  await file('copy/hello.txt', `hello ${salt}\n`)
  // A cross step: the RUN runs on the build platform, its output is copied into each target.
  await file(
    'cross/Dockerfile',
    [
      'FROM --platform=$BUILDPLATFORM busybox:multi AS build',
      'ARG BUILDPLATFORM',
      'ARG TARGETPLATFORM',
      `RUN echo "$BUILDPLATFORM for $TARGETPLATFORM ${salt}" > /made`,
      'FROM busybox:multi',
      'COPY --from=build /made /made',
      'ENTRYPOINT ["/bin/sh", "-c", "cat /made"]',
      ''
    ].join('\n')
  )
  // A RUN on the target platform: under QEMU for arm64.
  await file('run/Dockerfile', `FROM busybox:multi\nRUN uname -m > /arch && echo ${salt} > /salt\n`)
  rack = await startRackServer({
    apps: ['production', 'production-old'],
    registry: {
      host: rig.registry,
      username: rig.registryUsername,
      password: rig.registryPassword
    },
    importAll: true
  })
})

afterAll(async () => {
  await rack?.close()
  if (root) await rm(root, { recursive: true, force: true })
})

function plan(registry: string, id = buildId()): Plan {
  return makePlan({
    root,
    registry,
    buildId: id,
    builds: [
      { services: ['web'], context: 'copy' },
      { services: ['cross'], context: 'cross' },
      { services: ['arch'], context: 'run' }
    ],
    images: { redis: 'busybox:multi', legacy: 'busybox:latest' }
  })
}

async function build(p: Plan, s: EngineSettings, ociArchives = false) {
  const c = captureLogger()
  const tempDir = await mkdtemp(path.join(tmpdir(), 'platforms-run-'))
  const r = await buildPlan(p, s, rigRunEnvironment(rig, c, tempDir), { ociArchives })
  return { r, log: c, tempDir }
}

async function blob(ref: string, digest: string): Promise<Buffer> {
  const { stream } = await client.getBlob(parseReference(ref), digest)
  const parts: Buffer[] = []
  for await (const p of stream) parts.push(p as Buffer)
  return Buffer.concat(parts)
}

/** A file of a gzip'd layer tar. */
async function fileInLayer(layer: Buffer, name: string): Promise<string | undefined> {
  const extract = tar.extract()
  let found: string | undefined
  const done = pipeline(
    (await import('node:stream')).Readable.from([layer]),
    createGunzip(),
    extract as unknown as NodeJS.WritableStream
  )
  for await (const entry of extract) {
    const parts: Buffer[] = []
    for await (const p of entry as unknown as Readable) parts.push(p as Buffer)
    if (entry.header.name.replace(/^\.?\//, '') === name) found = Buffer.concat(parts).toString()
  }
  await done
  return found
}

interface PlatformImage {
  platform: string
  architecture: string
  /** `name` from the image's last layer. */
  file?: string
}

/** The index under `ref`, and per platform its config's architecture and a file of its top layer. */
async function inspectIndex(ref: string, file?: string) {
  const top = await client.getManifest(parseReference(ref))
  const images: PlatformImage[] = []
  for (const d of top.json.manifests ?? []) {
    const m = await client.getManifest(withDigest(parseReference(ref), d.digest))
    const config = JSON.parse((await blob(ref, m.json.config!.digest)).toString()) as {
      architecture: string
    }
    const last = m.json.layers!.at(-1)!
    images.push({
      platform: `${d.platform?.os}/${d.platform?.architecture}`,
      architecture: config.architecture,
      ...(file ? { file: await fileInLayer(await blob(ref, last.digest), file) } : {})
    })
  }
  return { top, images }
}

/** The digest of what `ref` names in the registry (the bytes' sha256). */
async function digestOf(ref: string): Promise<string> {
  return sha256((await client.getManifest(parseReference(ref))).bytes)
}

/** Imports an OCI archive as the rack does: `skopeo copy [--all] oci-archive:<file> docker://...`. */
async function skopeoImport(archive: string, target: string, all: boolean): Promise<void> {
  const r = await skopeo([
    'copy',
    ...(all ? ['--all'] : []),
    '--dest-tls-verify=false',
    '--dest-creds',
    registryCreds(rig),
    `oci-archive:${archive}`,
    `docker://${target}`
  ])
  if (r.exitCode !== 0) throw new Error(`skopeo copy exited ${r.exitCode}: ${r.stderr}`)
}

/** Our import path on a test rack: the rack pushes each archive, we check every image it made. */
function importOn(server: RackServer, app: string, tarball: string) {
  return runImport(new RackClient({ rackUrl: server.rackUrl, retryDelayMs: 10 }), {
    app,
    tarball,
    logger: silentLogger,
    repository: server.upstreamRepository(app),
    verifyImage: async image => {
      await client.getManifest(parseReference(image.ref))
    }
  })
}

/** index.json of an OCI archive and the manifest or index it names. */
async function archiveTop(
  file: string
): Promise<{ entry: { mediaType: string; digest: string }; json: ManifestJson }> {
  const files = new Map<string, Buffer>()
  await readTar(file, async (name, _size, stream) => {
    if (name === 'index.json' || name.startsWith('blobs/')) {
      const parts: Buffer[] = []
      for await (const p of stream) parts.push(p as Buffer)
      if (parts.reduce((n, b) => n + b.length, 0) < 1 << 20) files.set(name, Buffer.concat(parts))
    }
  })
  const layout = JSON.parse(files.get('index.json')!.toString()) as {
    manifests: { mediaType: string; digest: string }[]
  }
  expect(layout.manifests).toHaveLength(1)
  const entry = layout.manifests[0]!
  const json = JSON.parse(
    files.get(`blobs/sha256/${entry.digest.slice(7)}`)!.toString()
  ) as ManifestJson
  return { entry, json }
}

it('the rig can run arm64 binaries: QEMU is registered in binfmt_misc (scripts/rig/up.sh)', () => {
  expect(existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')).toBe(true)
})

describe.each(['buildctl', 'buildx'] as const)('platforms with %s on the rig', engine => {
  const settings = (registry: string, over: Partial<EngineSettings> = {}): EngineSettings =>
    rigEngineSettings(rig, engine, registry, { platforms: BOTH, ...over })

  it('builds one index per service, copies image services, exports and imports the indexes whole', async () => {
    const registry = uniqueRepo(`platforms-${engine}`, rig)
    const p = plan(registry)
    const { r, log } = await build(p, settings(registry))

    const files: Record<string, (string | undefined)[]> = {}
    for (const [service, file] of [
      ['web', 'hello.txt'],
      ['cross', 'made'],
      ['arch', 'arch']
    ] as const) {
      const s = r.services.find(x => x.name === service)!
      const { top, images } = await inspectIndex(s.image, file)
      // `digests` is the index's digest, on both engines.
      expect(top.mediaType).toBe(MediaType.ociIndex)
      expect(s.digest).toBe(top.digest)
      expect(images.map(i => [i.platform, i.architecture])).toEqual([
        ['linux/amd64', 'amd64'],
        ['linux/arm64', 'arm64']
      ])
      files[service] = images.map(i => i.file)
    }
    expect(files.web).toEqual([expect.stringMatching(/^hello /), expect.stringMatching(/^hello /)])
    // Both made on the builder's platform, each for its target.
    expect(files.cross!.map(f => f?.split(' ').slice(0, 3).join(' '))).toEqual([
      'linux/amd64 for linux/amd64',
      'linux/amd64 for linux/arm64'
    ])
    // The arm64 RUN ran an arm64 busybox (under QEMU).
    expect(files.arch).toEqual(['x86_64\n', 'aarch64\n'])
    // The entrypoint the rack stores is the first platform's.
    const cross = r.services.find(x => x.name === 'cross')!.image
    const first = await getImageConfig(client, parseReference(cross), 'linux/arm64')
    expect(first.entrypoint).toEqual(['/bin/sh', '-c', 'cat /made'])
    expect((first.raw as { architecture: string }).architecture).toBe('arm64')
    expect(first.digest).toBe(r.services.find(x => x.name === 'cross')!.digest)

    // An image service keeps its index and digest; one without arm64 is copied as it is, with a
    // warning naming the platform it lacks.
    const hubMulti = await client.getManifest(parseReference('busybox:multi'))
    const redis = r.services.find(x => x.name === 'redis')!
    expect(redis.digest).toBe(hubMulti.digest)
    expect(await digestOf(redis.image)).toBe(hubMulti.digest)
    const legacy = r.services.find(x => x.name === 'legacy')!
    expect(legacy.digest).toBe((await client.getManifest(parseReference('busybox:latest'))).digest)
    expect(r.warnings).toContain(
      'legacy: busybox:latest has no linux/arm64 image: copied linux/amd64'
    )
    expect(log.warnings.map(w => w.message).join('\n')).toContain(
      'busybox:latest has no linux/arm64 image'
    )

    // The export holds each index whole; skopeo imports it as a 3.25.3 rack does, same digest.
    const sources: ExportSource[] = p.services.map(s => ({
      service: s.name,
      client,
      image: parseReference(s.image)
    }))
    const record = buildRecord({
      id: p.buildId,
      app: 'platforms',
      started: new Date(),
      ended: new Date()
    })
    const out = path.join(root, `export-${engine}.tgz`)
    const written = await writeExport(out, record, sources, { tempDir: root })
    const extracted = await readExport(written.path, { extractTo: path.join(root, `ex-${engine}`) })
    const other = uniqueRepo(`platforms-imported-${engine}`, rig)
    for (const service of ['web', 'cross', 'arch', 'redis']) {
      const s = r.services.find(x => x.name === service)!
      const archive = extracted.archives[service]!
      const { entry, json } = await archiveTop(archive)
      expect(entry).toMatchObject({ mediaType: MediaType.ociIndex, digest: s.digest })
      expect(json.manifests!.map(m => m.platform?.architecture)).toEqual(['amd64', 'arm64'])
      expect(written.archives[service]).toMatchObject({
        manifestDigest: s.digest,
        platforms: BOTH
      })
      const target = `${other}:${service}.BIMPORTEDAA`
      await skopeoImport(archive, target, true)
      expect(await digestOf(target)).toBe(s.digest)
    }
    // A single-platform image service stays a plain manifest in the export.
    expect((await archiveTop(extracted.archives.legacy!)).entry.mediaType).toBe(
      MediaType.ociManifest
    )
    // Before 3.25.3 the rack's `skopeo copy` without --all takes the host's platform of it.
    const old = `${other}:web.BOLDRACKAAA`
    await skopeoImport(extracted.archives.web!, old, false)
    const webIndex = await client.getManifest(parseReference(r.services[0]!.image))
    expect(await digestOf(old)).toBe(webIndex.json.manifests![0]!.digest)

    // Our import path on the test rack: the rack pushes each archive (skopeo copy --all, as 3.25.3
    // does) and our check of the imported images accepts the indexes.
    const imported = await importOn(rack, 'production', written.path)
    expect(rack.importFailures).toEqual([])
    for (const service of ['web', 'cross', 'arch', 'redis']) {
      expect(await digestOf(imported.images[service]!)).toBe(
        r.services.find(x => x.name === service)!.digest
      )
    }
  })

  it('a single platform stays a plain manifest; platforms picks the image services platforms', async () => {
    const registry = uniqueRepo(`platforms-arm-${engine}`, rig)
    const { r, log } = await build(
      plan(registry),
      settings(registry, { platforms: ['linux/arm64'] })
    )
    for (const service of ['web', 'cross', 'arch']) {
      const s = r.services.find(x => x.name === service)!
      const m = await client.getManifest(parseReference(s.image))
      expect(m.mediaType).toBe(MediaType.ociManifest)
      expect(s.digest).toBe(m.digest)
      const config = JSON.parse((await blob(s.image, m.json.config!.digest)).toString())
      expect(config.architecture).toBe('arm64')
    }
    // busybox:multi copied as its arm64 manifest alone, the same digest as the hub's.
    const hubMulti = await client.getManifest(parseReference('busybox:multi'))
    const arm = hubMulti.json.manifests!.find(m => m.platform?.architecture === 'arm64')!
    const redis = r.services.find(x => x.name === 'redis')!
    expect(redis.digest).toBe(arm.digest)
    expect(await digestOf(redis.image)).toBe(arm.digest)
    expect(log.warnings.map(w => w.message).join('\n')).toContain(
      'legacy: busybox:latest has no linux/arm64 image'
    )
  })

  it('not pushed: the OCI archives BuildKit writes are exported as the same indexes', async () => {
    const p = plan('')
    const { r, tempDir } = await build(p, settings('', { push: false, cache: 'none' }), true)
    const sources: ExportSource[] = p.services
      .filter(s => s.build !== null)
      .map(s => ({ service: s.name, ociTar: r.ociArchives[s.build!]! }))
    const record = buildRecord({
      id: p.buildId,
      app: 'platforms',
      started: new Date(),
      ended: new Date()
    })
    const written = await writeExport(path.join(tempDir, 'oci.tgz'), record, sources, { tempDir })
    const repo = uniqueRepo(`platforms-oci-${engine}`, rig)
    for (const s of r.services.filter(x => x.build !== null)) {
      // The metadata file's digest is the index's for an OCI output as well.
      expect(written.archives[s.name]).toMatchObject({
        mediaType: MediaType.ociIndex,
        manifestDigest: s.digest,
        platforms: BOTH
      })
      const extracted = await readExport(written.path, { extractTo: path.join(tempDir, 'x') })
      const target = `${repo}:${s.name}.BOCIIMPORTA`
      await skopeoImport(extracted.archives[s.name]!, target, true)
      expect(await digestOf(target)).toBe(s.digest)
    }
  })
})

describe('import on a rack before 3.25.3 (skopeo copy without --all)', () => {
  it('pushes one platform of the index, and our import check accepts it', async () => {
    const old = await startRackServer({
      apps: ['staging'],
      registry: {
        host: rig.registry,
        username: rig.registryUsername,
        password: rig.registryPassword
      }
    })
    try {
      const registry = uniqueRepo('platforms-oldrack', rig)
      const p = plan(registry)
      p.builds = p.builds.slice(0, 1)
      p.services = p.services.filter(s => s.name === 'web')
      const { r } = await build(
        p,
        rigEngineSettings(rig, 'buildctl', registry, { platforms: BOTH })
      )
      const record = buildRecord({
        id: p.buildId,
        app: 'platforms',
        started: new Date(),
        ended: new Date()
      })
      const written = await writeExport(
        path.join(root, 'old-rack.tgz'),
        record,
        [{ service: 'web', client, image: parseReference(r.services[0]!.image) }],
        { tempDir: root }
      )
      const imported = await importOn(old, 'staging', written.path)
      expect(old.importFailures).toEqual([])
      const index = await client.getManifest(parseReference(r.services[0]!.image))
      expect(await digestOf(imported.images.web!)).toBe(index.json.manifests![0]!.digest)
    } finally {
      await old.close()
    }
  })
})

describe('secrets stay out', () => {
  it('no registry password in the export of a multi-platform build', async () => {
    const registry = uniqueRepo('platforms-secret', rig)
    const p = plan(registry)
    p.builds = p.builds.slice(0, 1)
    p.services = p.services.filter(s => s.name === 'web')
    const { r, log } = await build(
      p,
      rigEngineSettings(rig, 'buildctl', registry, { platforms: BOTH })
    )
    const record = buildRecord({
      id: p.buildId,
      app: 'platforms',
      started: new Date(),
      ended: new Date(),
      secrets: new Redactor([rig.registryPassword, rig.hubPassword])
    })
    const written = await writeExport(
      path.join(root, 'secret.tgz'),
      record,
      [{ service: 'web', client, image: parseReference(r.services[0]!.image) }],
      { tempDir: root }
    )
    const { gunzipSync } = await import('node:zlib')
    const whole = gunzipSync(await (await import('node:fs/promises')).readFile(written.path))
    for (const secret of [rig.registryPassword, rig.hubPassword]) {
      expect(whole.includes(secret)).toBe(false)
      expect(log.text()).not.toContain(secret)
      expect(JSON.stringify(r)).not.toContain(secret)
    }
  })
})
