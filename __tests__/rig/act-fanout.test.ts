// A fan-out workflow through act (__tests__/act/workflows/fanout.yml): a start job, one job per
// build leg from its matrix, and a finish job that runs always, each `uses: ./` against the rig
// and the test rack. The result is one build with one release, every image under its id, and an
// export that imports; with a failing leg, a failed build naming the service and no release.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readExport } from '../../src/core/export/tarball.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'
import {
  actArgs,
  actEnv,
  actPath,
  envFileText,
  rigWorkflowEnv,
  runAct,
  type ActRun
} from '../helpers/act.js'
import { EXAMPLES } from '../helpers/engine-plan.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'
import { loadRig, registryCreds, rigLogins, skopeo, uniqueRepo } from '../helpers/rig.js'

const WORKFLOW = '__tests__/act/workflows/fanout.yml'
const SERVICES = ['web', 'worker', 'api', 'cache']
const rig = loadRig()
const logins = rigLogins(rig)
let tmp: string
let appDir: string
let rack: RackServer

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'act-fanout-'))
  // The example app, whose api build fails when its leg gets FAIL=1.
  appDir = join(tmp, 'app')
  await cp(EXAMPLES, appDir, { recursive: true })
  const api = join(appDir, 'api', 'Dockerfile.production')
  await writeFile(api, `${await readFile(api, 'utf8')}\nARG FAIL\nRUN test -z "$FAIL"\n`)
  rack = await startRackServer({
    registry: { host: rig.registry, username: rig.registryUsername, password: rig.registryPassword }
  })
})

afterAll(async () => {
  await rack?.close()
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

/** One act run of the workflow; the ms it took, for the note on fan-out against one job. */
async function runWorkflow(
  app: string,
  failServices: string
): Promise<{ run: ActRun; out: string }> {
  const dir = await mkdtemp(join(tmp, `${app}-`))
  const out = join(dir, 'out')
  const home = join(dir, 'home')
  await Promise.all([out, home, join(dir, 'actions')].map(d => mkdir(d)))
  rack.addApp(app)
  await writeFile(
    join(dir, 'env'),
    rigWorkflowEnv(rig, { APP: app, APP_DIR: appDir, ACT_OUT: out, FAIL_SERVICES: failServices })
  )
  await writeFile(
    join(dir, 'secrets'),
    envFileText({ RACK_URL: rack.rackUrl, HUB_PASSWORD: rig.hubPassword }),
    { mode: 0o600 }
  )
  const run = await runAct(
    actPath(rig),
    actArgs(WORKFLOW, dir, ['--no-cache-server']),
    actEnv(rig, home, {}),
    540_000
  )
  console.info(`act-fanout ${app}: ${run.ms} ms`)
  return { run, out }
}

const tail = (run: ActRun): string => run.output.split('\n').slice(-80).join('\n')

describe('a fan-out workflow under act', () => {
  it('makes one complete build with one release, every image under its id, an export that imports', async () => {
    const app = 'act-fanout'
    const { run, out } = await runWorkflow(app, '')
    expect({ code: run.code, log: run.code === 0 ? '' : tail(run) }).toEqual({ code: 0, log: '' })
    const builds = rack.buildsOf(app)
    expect(builds.map(b => b.status)).toEqual(['complete'])
    const buildId = builds[0]!.id
    expect(rack.releasesOf(app).map(r => r.build)).toEqual([buildId])
    const client = new RegistryClient({ credentials: host => logins[host] })
    for (const s of SERVICES) {
      const ref = `${rack.upstreamRepository(app)}:${s}.${buildId}`
      expect(await client.findManifest(parseReference(ref))).toBeDefined()
    }
    const outputs = JSON.parse(await readFile(join(out, 'finish-outputs.json'), 'utf8')) as Record<
      string,
      string
    >
    expect(outputs['build-id']).toBe(buildId)
    expect(outputs['release-id']).toBe(builds[0]!.release)
    const extracted = await mkdtemp(join(tmp, 'unpacked-'))
    const contents = await readExport(join(out, 'fanout.tgz'), { extractTo: extracted })
    expect(Object.keys(contents.archives).sort()).toEqual([...SERVICES].sort())
    const copied = await skopeo([
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      registryCreds(rig),
      `oci-archive:${contents.archives.api}`,
      `docker://${uniqueRepo('act-fanout-imported', rig)}:api.BIMPORTEDXX`
    ])
    expect(copied.stderr).toBe('')
    // No job output holds the rack password (GitHub drops outputs that hold secrets).
    expect(run.output).not.toContain(rack.password)
  })

  it('with a failing leg: the build is failed naming the service, and no release', async () => {
    const app = 'act-fanout-fail'
    const { run } = await runWorkflow(app, 'api')
    expect(run.code).not.toBe(0)
    const builds = rack.buildsOf(app)
    expect(builds.map(b => b.status)).toEqual(['failed'])
    expect(rack.releasesOf(app)).toEqual([])
    const log = rack.objects.get(builds[0]!.logs.replace(/^object:\/\//, ''))?.toString() ?? ''
    expect(log).toMatch(/ERROR: build of api failed/)
    // finish ran (always) and named what is missing
    expect(run.output).toMatch(new RegExp(`build ${builds[0]!.id} has no image for api`))
  })
})
