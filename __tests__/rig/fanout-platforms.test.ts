// Legs per platform (legs: platforms) through the pipeline on the rig, registering on the test
// rack: start's matrix has an entry per build and platform with its runner; a linux/amd64 leg and
// a linux/arm64 leg (its RUN under QEMU) each push their platform's image under its leg tag;
// finish joins them into the index <service>.<BUILD_ID> in the registry, whose digest is the
// `digests` output, releases it and exports it. A rerun with nothing changed reuses per platform.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { readExport } from '../../src/core/export/tarball.js'
import { RegistryClient, type ManifestJson } from '../../src/core/registry/client.js'
import { getImageConfig } from '../../src/core/registry/image-config.js'
import { parseReference } from '../../src/core/registry/reference.js'
import { pipelineEnv, rigInputs, runWithInputs, type PipelineRun } from '../helpers/pipeline.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'
import { loadRig } from '../helpers/rig.js'

const rig = loadRig()
const BOTH = ['linux/amd64', 'linux/arm64']
// A repository of its own per run: the rig's registry outlives it.
const APP = `legs-${Date.now().toString(36)}`
const RUNNERS = 'linux/arm64: ubuntu-24.04-arm\nlinux/amd64: ubuntu-24.04'
const logins: Record<string, { username: string; password: string }> = {
  [rig.registry]: { username: rig.registryUsername, password: rig.registryPassword }
}
const client = new RegistryClient({ credentials: h => logins[h] })

let app: string
let rack: RackServer

beforeAll(async () => {
  app = await mkdtemp(path.join(tmpdir(), 'fanout-platforms-'))
  const salt = `${Date.now()}-${Math.random()}`
  await mkdir(path.join(app, 'web'))
  await writeFile(
    path.join(app, 'convox.yml'),
    'services:\n  web:\n    build: web\n  cache:\n    image: busybox:multi\n'
  )
  // A RUN on the target platform: under QEMU on the arm64 leg.
  await writeFile(
    path.join(app, 'web', 'Dockerfile'),
    `FROM busybox:multi\nRUN uname -m > /arch && echo ${salt} > /salt\nENTRYPOINT ["cat", "/arch"]\n`
  )
  rack = await startRackServer({
    registry: { host: rig.registry, username: rig.registryUsername, password: rig.registryPassword }
  })
  rack.addApp(APP)
})

afterAll(async () => {
  await rack?.close()
  if (app) await rm(app, { recursive: true, force: true })
})

function ok(run: PipelineRun): NonNullable<PipelineRun['result']> {
  if (run.error) throw run.error
  return run.result!
}

const stage = (inputs: Record<string, string>): Promise<PipelineRun> =>
  runWithInputs(
    {
      ...rigInputs(rig),
      app: APP,
      'rack-url': rack.rackUrl,
      'git-sha': 'f'.repeat(40),
      legs: 'platforms',
      'platform-runners': RUNNERS,
      ...inputs
    },
    { env: pipelineEnv(rig), cwd: app }
  )

interface FanOut {
  start: NonNullable<PipelineRun['result']>
  legs: NonNullable<PipelineRun['result']>[]
  finish: NonNullable<PipelineRun['result']>
  exportFile: string
}

async function fanOut(n: number): Promise<FanOut> {
  const start = ok(await stage({ stage: 'start', platforms: BOTH.join(',') }))
  const legs = await Promise.all(
    start.matrix.include.map(async entry =>
      ok(
        await stage({
          stage: 'build',
          'build-id': start.buildId,
          services: entry.services,
          platforms: entry.platform ?? ''
        })
      )
    )
  )
  const exportFile = path.join(app, `..`, `${path.basename(app)}-${n}.tgz`)
  const finish = ok(
    await stage({
      stage: 'finish',
      'build-id': start.buildId,
      platforms: BOTH.join(','),
      export: exportFile
    })
  )
  return { start, legs, finish, exportFile }
}

describe('legs per platform', () => {
  let first: FanOut

  beforeAll(async () => {
    first = await fanOut(1)
  })
  afterAll(async () => {
    if (first) await rm(first.exportFile, { force: true })
  })

  it('plans an entry per build and platform, with the runner of each', () => {
    expect(first.start.matrix).toEqual({
      include: [
        { services: 'web', platform: 'linux/amd64', runner: 'ubuntu-24.04' },
        { services: 'web', platform: 'linux/arm64', runner: 'ubuntu-24.04-arm' }
      ]
    })
  })

  it('joins the legs’ images into the index <service>.<BUILD_ID>, its digest the output', async () => {
    const repo = rack.upstreamRepository(APP)
    const id = first.start.buildId
    const [amd, arm] = first.legs
    // Pushed through the rack's registry proxy, into the rig's registry.
    expect(amd!.images.web).toMatch(new RegExp(`/${APP}:web\\.${id}\\.linux-amd64$`))
    expect(arm!.images.web).toMatch(new RegExp(`/${APP}:web\\.${id}\\.linux-arm64$`))
    for (const [leg, tag] of [
      [amd!, 'linux-amd64'],
      [arm!, 'linux-arm64']
    ] as const) {
      const pushed = await client.getManifest(parseReference(`${repo}:web.${id}.${tag}`))
      expect(pushed.digest).toBe(leg.digests.web)
    }
    const index = await client.getManifest(parseReference(`${repo}:web.${id}`))
    expect(first.finish.digests.web).toBe(index.digest)
    const manifests = (index.json as ManifestJson).manifests ?? []
    expect(manifests.map(m => [m.digest, m.platform?.os, m.platform?.architecture])).toEqual([
      [amd!.digests.web, 'linux', 'amd64'],
      [arm!.digests.web, 'linux', 'arm64']
    ])
    // Each platform's image is its own: the arm64 one ran its RUN as arm64.
    const ref = parseReference(`${repo}:web.${id}`)
    const config = await getImageConfig(client, ref, 'linux/arm64')
    expect(config.manifestDigest).toBe(arm!.digests.web)
    const blob = JSON.parse((await client.readBlob(ref, config.configDigest)).toString()) as {
      architecture: string
    }
    expect(blob.architecture).toBe('arm64')
    // The image service is copied by finish with both platforms, as in any fan-out.
    const cache = await client.getManifest(parseReference(`${repo}:cache.${id}`))
    expect(cache.json.manifests?.map(m => m.platform?.architecture).sort()).toEqual([
      'amd64',
      'arm64'
    ])
  })

  it('gives each platform leg a registry cache of its own', async () => {
    const repo = rack.upstreamRepository(APP)
    for (const tag of ['web.linux-amd64.buildcache', 'web.linux-arm64.buildcache']) {
      expect(await client.findManifest(parseReference(`${repo}:${tag}`))).toBeDefined()
    }
    // Neither leg wrote the shared tag the other would have overwritten.
    expect(await client.findManifest(parseReference(`${repo}:web.buildcache`))).toBeUndefined()
  })

  it('releases the build on the rack and exports the index', async () => {
    const builds = rack.buildsOf(APP).filter(b => b.id === first.start.buildId)
    expect(builds.map(b => b.status)).toEqual(['complete'])
    expect(builds[0]!.release).toBe(first.finish.releaseId)
    const log = rack.objects.get(builds[0]!.logs.replace(/^object:\/\//, ''))?.toString() ?? ''
    expect(log).toContain('==> web (linux/amd64)')
    expect(log).toContain('==> web (linux/arm64)')
    expect(log).not.toContain('no log stored')
    const extracted = await mkdtemp(path.join(tmpdir(), 'fanout-platforms-export-'))
    try {
      const contents = await readExport(first.exportFile, { extractTo: extracted })
      expect(contents.record.id).toBe(first.start.buildId)
      expect(Object.keys(contents.archives).sort()).toEqual(['cache', 'web'])
    } finally {
      await rm(extracted, { recursive: true, force: true })
    }
  })

  it('fails finish naming the service and the platform no leg pushed', async () => {
    const start = ok(await stage({ stage: 'start', platforms: BOTH.join(',') }))
    const amd64 = start.matrix.include.find(e => e.platform === 'linux/amd64')!
    ok(
      await stage({
        stage: 'build',
        'build-id': start.buildId,
        services: amd64.services,
        platforms: 'linux/amd64'
      })
    )
    const finish = await stage({
      stage: 'finish',
      'build-id': start.buildId,
      platforms: BOTH.join(',')
    })
    expect(finish.error?.message).toContain(
      `build ${start.buildId} has no image for web (linux/arm64)`
    )
    expect(rack.buildsOf(APP).find(b => b.id === start.buildId)?.status).toBe('failed')
    const index = await client.findManifest(
      parseReference(`${rack.upstreamRepository(APP)}:web.${start.buildId}`)
    )
    expect(index).toBeUndefined()
  })

  it('reuses each platform’s image on a rerun with nothing changed', async () => {
    const again = await fanOut(2)
    try {
      again.legs.forEach((leg, i) => {
        const web = leg.services.find(s => s.name === 'web')!
        expect(web.reusedFrom).toBeDefined()
        expect(leg.digests.web).toBe(first.legs[i]!.digests.web)
      })
      expect(again.finish.digests.web).toBe(first.finish.digests.web)
    } finally {
      await rm(again.exportFile, { force: true })
    }
  })
})
