// Reused images through the whole pipeline: a second build of the unchanged example app reuses
// every Dockerfile build, and the export and the rack registration (the test rack's /v2/ proxy
// into the rig's registry) work with them as with built ones.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { readFile } from 'node:fs/promises'
import {
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp,
  type PipelineRun
} from '../helpers/pipeline.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'
import { loadRig, uniqueRepo } from '../helpers/rig.js'

const rig = loadRig()
const BUILT = ['web', 'worker', 'api']
// No BUILD_ID: the example's Dockerfiles then depend only on the commit and VERSION.
const ARGS = 'BUILD_APP\nBUILD_GIT_SHA\nVERSION=1.2.3'

let example: ExampleApp
let dir: string
let server: RackServer

beforeAll(async () => {
  example = await exampleApp()
  dir = await mkdtemp(path.join(tmpdir(), 'pipeline-reuse-'))
  server = await startRackServer({
    registry: { host: rig.registry, username: rig.registryUsername, password: rig.registryPassword }
  })
})
afterAll(async () => {
  await server?.close()
  for (const d of [dir, example?.dir]) if (d) await rm(d, { recursive: true, force: true })
})

function ok(run: PipelineRun): NonNullable<PipelineRun['result']> {
  if (run.error) throw run.error
  return run.result!
}

const runWith = (inputs: Record<string, string>): Promise<PipelineRun> =>
  runWithInputs(
    { ...rigInputs(rig), 'build-args': ARGS, ...inputs },
    { env: pipelineEnv(rig), cwd: example.dir }
  )

describe('reused images through the pipeline', () => {
  it('exports a reused build: same digests, every service archive, log says reused', async () => {
    const registry = uniqueRepo('pipeline-reuse', rig)
    const login = {
      app: 'example',
      registry,
      'registry-username': rig.registryUsername,
      'registry-password': rig.registryPassword
    }
    const first = ok(await runWith({ ...login, export: path.join(dir, '1.tgz') }))
    expect(first.services.every(s => !s.reusedFrom)).toBe(true)

    const run = await runWith({ ...login, export: path.join(dir, '2.tgz') })
    const second = ok(run)
    for (const name of BUILT) {
      const s = second.services.find(x => x.name === name)!
      expect(s.reusedFrom).toMatch(new RegExp(`^${registry.replace(/\./g, '\\.')}:`))
      expect(s.digest).toBe(first.digests[name])
    }
    // The image service is copied as before, not "reused".
    expect(second.services.find(x => x.name === 'cache')!.reusedFrom).toBeUndefined()

    const whole = gunzipSync(await readFile(second.exportPath))
    for (const s of [...BUILT, 'cache']) {
      expect(whole.includes(`${s}.${second.buildId}.tar`)).toBe(true)
    }
    for (const name of BUILT) {
      expect(whole.includes(first.digests[name]!.slice('sha256:'.length))).toBe(true)
    }

    // The Plan group has its lines; a reused build says so once.
    const lines = run.log.lines
    const plan = lines.indexOf('::group::Plan')
    expect(lines.slice(plan + 1, plan + 3)).toEqual([
      `example ${second.buildId}: 4 services, 2 builds`,
      'build 1: web, worker from Dockerfile, args BUILD_APP BUILD_GIT_SHA VERSION'
    ])
    expect(lines.filter(l => /\[web, worker\] unchanged/.test(l))).toHaveLength(1)
  })

  it('registers a reused build on the rack: a complete build and release, images via its /v2/', async () => {
    const app = `reuse-${Date.now().toString(36)}`
    server.addApp(app)
    const first = ok(await runWith({ app, 'rack-url': server.rackUrl }))
    const second = ok(await runWith({ app, 'rack-url': server.rackUrl }))
    for (const name of BUILT) {
      const s = second.services.find(x => x.name === name)!
      expect(s.reusedFrom).toMatch(new RegExp(`^${server.host}/${app}:`))
      expect(s.image).toBe(`${server.host}/${app}:${name}.${second.buildId}`)
      expect(s.digest).toBe(first.digests[name])
    }
    const builds = server.buildsOf(app)
    expect(builds.map(b => b.status)).toEqual(['complete', 'complete'])
    expect(server.releasesOf(app).map(r => r.build)).toEqual([first.buildId, second.buildId])
    // The tags were written through the rack's registry proxy (manifest PUTs, no blob uploads).
    const puts = server.requests.filter(
      q => q.method === 'PUT' && q.path.startsWith(`/v2/${app}/manifests/`)
    )
    expect(puts.some(q => q.path.endsWith(`web.${second.buildId}`))).toBe(true)
  })
})
