// A registry that garbles a push (distribution's DIGEST_INVALID "provided digest did not match
// uploaded content", BLOB_UNKNOWN): the build is pushed again once, with a warning, instead of
// failing; a registry that keeps failing still fails the build, after that one retry.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan } from '../../src/core/engine/index.js'
import { isRegistryWriteRace } from '../../src/core/engine/build-retries.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'
import { makePlan, rigEngineSettings, rigRunEnvironment } from '../helpers/engine-plan.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { captureLogger } from '../helpers/logger.js'
import { loadRig, rigLogins } from '../helpers/rig.js'

const rig = loadRig()
let proxy: FaultProxy
let root: string

const DIGEST_INVALID = JSON.stringify({
  errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }]
})

beforeAll(async () => {
  proxy = await startFaultProxy(rig.registry)
  root = await mkdtemp(path.join(tmpdir(), 'engine-registry-faults-'))
  await mkdir(path.join(root, 'app'))
})

afterAll(async () => {
  await proxy?.close()
  if (root) await rm(root, { recursive: true, force: true })
})

/** Builds a fresh one-service app through the proxy (BuildKit speaks plain HTTP to loopback). */
async function buildThroughProxy(salt: string) {
  await writeFile(
    path.join(root, 'app', 'Dockerfile'),
    `FROM busybox\nRUN echo ${salt} > /salt && head -c 100000 /dev/urandom > /r\n`
  )
  const registry = `${proxy.host}/registry-faults-${salt}`
  const plan = makePlan({ root, registry, builds: [{ services: ['web'], context: 'app' }] })
  const logins = rigLogins(rig)
  const settings = rigEngineSettings(rig, 'buildctl', registry, {
    registryUsername: rig.registryUsername,
    registryPassword: rig.registryPassword,
    cache: 'none'
  })
  const log = captureLogger()
  const tempDir = await mkdtemp(path.join(root, 'run-'))
  const run = buildPlan(plan, settings, rigRunEnvironment(rig, log, tempDir))
  const outcome = await run.then(
    r => ({ result: r, error: undefined }),
    (e: Error) => ({ result: undefined, error: e })
  )
  const client = new RegistryClient({
    credentials: host => (host === proxy.host ? logins[rig.registry] : undefined)
  })
  return { ...outcome, log, plan, client }
}

/** The PUT that commits a blob upload (`...blobs/uploads/<id>?digest=...`). */
const commitPut = (r: { method: string; url: string }): boolean =>
  r.method === 'PUT' && /\/blobs\/uploads\/.*[?&]digest=/.test(r.url)

describe('a push the registry garbles', () => {
  it('is pushed again once with a warning, and the image is there', async () => {
    let failed = 0
    proxy.setRule(r =>
      commitPut(r) && failed++ === 0
        ? { kind: 'answer', status: 400, body: DIGEST_INVALID }
        : undefined
    )
    const { result, error, log, plan, client } = await buildThroughProxy(`once${Date.now()}`)
    expect(error).toBeUndefined()
    expect(failed).toBeGreaterThan(1)
    const warnings = log.warnings.map(w => w.message).filter(m => /garbled the push/.test(m))
    expect(warnings).toHaveLength(1)
    const image = plan.services[0]!.image
    const manifest = await client.getManifest(parseReference(image))
    expect(manifest.digest).toBe(result!.services[0]!.digest)
  })

  it('still fails the build when the registry keeps failing, after that one retry', async () => {
    proxy.setRule(r =>
      commitPut(r) ? { kind: 'answer', status: 400, body: DIGEST_INVALID } : undefined
    )
    const { error, log } = await buildThroughProxy(`always${Date.now()}`)
    expect(error?.message).toMatch(/^build of web failed: /)
    expect(log.warnings.filter(w => /garbled the push/.test(w.message))).toHaveLength(1)
  })

  it('tells these registry faults from build mistakes', () => {
    expect(isRegistryWriteRace('provided digest did not match uploaded content')).toBe(true)
    expect(isRegistryWriteRace('blob unknown to registry')).toBe(true)
    expect(isRegistryWriteRace('process "/bin/sh -c exit 3" did not complete successfully')).toBe(
      false
    )
  })
})
