// A fan-out through the CLI (dist/cli.js): `--stage start`, build legs in parallel, `--stage
// finish`, each a separate process in its own copy of the checkout, as on separate machines.
// Only the build id (and the matrix) travel between them; the images travel through the registry.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { readExport } from '../../src/core/export/tarball.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'
import { appendLine, exampleApp, type ExampleApp } from '../helpers/pipeline.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'
import {
  CLI,
  loadRig,
  registryCreds,
  rigCliEnv,
  rigCliFlags,
  rigLogins,
  skopeo,
  uniqueRepo
} from '../helpers/rig.js'

const rig = loadRig()
const logins = rigLogins(rig)
const client = new RegistryClient({ credentials: host => logins[host] })
let work: string
let source: ExampleApp
let rack: RackServer

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'fanout-'))
  source = await exampleApp()
  rack = await startRackServer({
    registry: { host: rig.registry, username: rig.registryUsername, password: rig.registryPassword }
  })
})

afterAll(async () => {
  await rack?.close()
  for (const d of [work, source?.dir]) if (d) await rm(d, { recursive: true, force: true })
})

interface Ran {
  code: number | null
  stdout: string
  stderr: string
}

/** A machine of its own: a fresh copy of the checkout, then the CLI in it. */
async function machine(
  args: string[],
  env: NodeJS.ProcessEnv,
  change?: (dir: string) => Promise<void>
): Promise<Ran> {
  const dir = await mkdtemp(path.join(work, 'machine-'))
  await cp(source.dir, dir, { recursive: true })
  if (change) await change(dir)
  const child = spawn(
    process.execPath,
    [
      CLI,
      'build',
      ...rigCliFlags(rig),
      '--build-args',
      'BUILD_GIT_SHA',
      '--build-args',
      'VERSION=1.2.3',
      ...args
    ],
    {
      cwd: dir,
      env: rigCliEnv(rig, env),
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => void (stdout += b.toString()))
  child.stderr.on('data', (b: Buffer) => void (stderr += b.toString()))
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  return { code, stdout, stderr }
}

function ok(r: Ran): Ran {
  expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' })
  return r
}

interface FanOut {
  buildId: string
  matrix: { include: { services: string }[] }
  legs: Ran[]
  finish: Ran
  exportFile: string
}

/** start, the matrix's legs at once, finish: each its own process and checkout copy. */
async function fanOut(
  common: string[],
  env: NodeJS.ProcessEnv,
  failing?: { service: string; change: (dir: string) => Promise<void> }
): Promise<FanOut> {
  const start = ok(await machine([...common, '--stage', 'start', '--json'], env))
  const started = JSON.parse(start.stdout) as { buildId: string; matrix: FanOut['matrix'] }
  const legs = await Promise.all(
    started.matrix.include.map(leg =>
      machine(
        [...common, '--stage', 'build', '--build-id', started.buildId, '--services', leg.services],
        env,
        failing && leg.services.split(',').includes(failing.service) ? failing.change : undefined
      )
    )
  )
  const exportFile = path.join(work, `export-${started.buildId}.tgz`)
  const finish = await machine(
    [...common, '--stage', 'finish', '--build-id', started.buildId, '--export', exportFile],
    env
  )
  return { buildId: started.buildId, matrix: started.matrix, legs, finish, exportFile }
}

const SERVICES = ['web', 'worker', 'api', 'cache']

describe('a fan-out through the CLI, without a rack', () => {
  const repo = uniqueRepo('fanout', rig)
  let f: FanOut

  beforeAll(async () => {
    f = await fanOut(
      ['--app', 'fanout', '--registry', repo, '--registry-username', rig.registryUsername],
      { CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword }
    )
  })

  it('plans one leg per distinct build, then builds each on its own', () => {
    expect(f.buildId).toMatch(/^B[A-Z]{10}$/)
    expect(f.matrix).toEqual({ include: [{ services: 'web,worker' }, { services: 'api' }] })
    for (const leg of f.legs) ok(leg)
    expect(f.legs.map(l => l.stdout)).toEqual([
      `Build:   ${f.buildId}\n`,
      `Build:   ${f.buildId}\n`
    ])
    ok(f.finish)
    expect(f.finish.stdout).toMatch(new RegExp(`^Build:   ${f.buildId}\nRelease: R[A-Z]{10}\n$`))
  })

  it('leaves every service tagged under the one build id, and an export that imports', async () => {
    for (const s of SERVICES) {
      expect(await client.findManifest(parseReference(`${repo}:${s}.${f.buildId}`))).toBeDefined()
    }
    const extracted = await mkdtemp(path.join(work, 'unpacked-'))
    const contents = await readExport(f.exportFile, { extractTo: extracted })
    expect(contents.record.id).toBe(f.buildId)
    expect(Object.keys(contents.archives).sort()).toEqual([...SERVICES].sort())
    const imported = uniqueRepo('fanout-imported', rig)
    const r = await skopeo([
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      registryCreds(rig),
      `oci-archive:${contents.archives.web}`,
      `docker://${imported}:web.BIMPORTEDXX`
    ])
    expect(r.stderr).toBe('')
  })
})

describe('a fan-out through the CLI, registering on a rack', () => {
  it('makes one complete build with one release, every image under its id', async () => {
    const app = 'fanout-rack'
    rack.addApp(app)
    const f = await fanOut(['--app', app], { RACK_URL: rack.rackUrl })
    for (const leg of f.legs) ok(leg)
    ok(f.finish)
    const builds = rack.buildsOf(app)
    expect(builds.map(b => [b.id, b.status])).toEqual([[f.buildId, 'complete']])
    const releases = rack.releasesOf(app)
    expect(releases.map(r => r.build)).toEqual([f.buildId])
    expect(builds[0]!.release).toBe(releases[0]!.id)
    for (const s of SERVICES) {
      const ref = `${rack.upstreamRepository(app)}:${s}.${f.buildId}`
      expect(await client.findManifest(parseReference(ref))).toBeDefined()
    }
    // The stored log gathers what each leg built.
    const log = rack.objects.get(builds[0]!.logs.replace(/^object:\/\//, ''))?.toString() ?? ''
    expect(log).toContain('==> web, worker')
    expect(log).toContain('==> api')
  })

  it('with a failing leg: the build is failed naming the service, and there is no release', async () => {
    const app = 'fanout-fail'
    rack.addApp(app)
    const f = await fanOut(
      ['--app', app],
      { RACK_URL: rack.rackUrl },
      {
        service: 'api',
        change: dir => appendLine(path.join(dir, 'api', 'Dockerfile.production'), 'RUN exit 3')
      }
    )
    const failed = f.legs.find(l => l.code !== 0)!
    expect(failed.stderr).toMatch(/build of api failed: .*exit code: 3/)
    // A build failure (README "Exit codes"), not a mistake in the input.
    expect(f.finish.code).toBe(2)
    expect(f.finish.stderr.trim().split('\n').at(-1)).toBe(
      `build ${f.buildId} has no image for api in ${rack.host}/${app}: their build leg failed or was cancelled`
    )
    const builds = rack.buildsOf(app)
    expect(builds.map(b => b.status)).toEqual(['failed'])
    expect(rack.releasesOf(app)).toEqual([])
    const log = rack.objects.get(builds[0]!.logs.replace(/^object:\/\//, ''))?.toString() ?? ''
    expect(log).toMatch(/ERROR: .*api/)
  })
})

describe('a fan-out of numbered parallel jobs (leg N/M), as GitLab and Buildkite run them', () => {
  it('splits the builds over the jobs by number; finish finds every image', async () => {
    const repo = uniqueRepo('fanout-legs', rig)
    const common = [
      '--app',
      'fanout',
      '--registry',
      repo,
      '--registry-username',
      rig.registryUsername
    ]
    const env = { CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword }
    const start = ok(await machine([...common, '--stage', 'start', '--id'], env))
    const buildId = start.stdout.trim()
    expect(buildId).toMatch(/^B[A-Z]{10}$/)
    const legs = await Promise.all(
      ['1/3', '2/3', '3/3'].map(leg =>
        machine([...common, '--stage', 'build', '--build-id', buildId, '--leg', leg], env)
      )
    )
    for (const leg of legs) ok(leg)
    expect(legs[2]!.stderr).toContain('leg 3/3: no build falls to this leg')
    ok(await machine([...common, '--stage', 'finish', '--build-id', buildId], env))
    for (const s of SERVICES) {
      expect(await client.findManifest(parseReference(`${repo}:${s}.${buildId}`))).toBeDefined()
    }
  })
})

describe('stage inputs', () => {
  it('a leg naming a service the manifest lacks is one error naming services', async () => {
    const r = await machine(
      [
        '--app',
        'fanout',
        '--registry',
        uniqueRepo('fanout-bad', rig),
        '--stage',
        'build',
        '--build-id',
        'BABCDEFGHIJ',
        '--services',
        'web,nosuch'
      ],
      {}
    )
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      '--services: "nosuch" is not a service of the manifest (web, worker, api, cache)'
    )
  })

  it('finish without the images of a leg that never ran is one error naming them', async () => {
    const repo = uniqueRepo('fanout-none', rig)
    const r = await machine(
      [
        '--app',
        'fanout',
        '--registry',
        repo,
        '--registry-username',
        rig.registryUsername,
        '--stage',
        'finish',
        '--build-id',
        'BNEVERBUILT'
      ],
      { CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword },
      dir => writeFile(path.join(dir, 'unused'), '')
    )
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      `build BNEVERBUILT has no image for web, worker, api in ${repo}: their build leg failed or was cancelled`
    )
  })
})
