// Registry cache on a repository that refuses to overwrite tags (ECR with immutable tags, as a
// rack with `ecr_immutable_tags_enabled` has it), for both engines: a loopback proxy in front of
// the rig's registry answers a manifest PUT on an existing tag with ECR's TAG_INVALID. Each build
// follows a `buildctl prune --all`, so only the registry cache can serve it: this file must not
// run alongside other rig files.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan, type EngineSettings } from '../../src/core/engine/index.js'
import type { Plan } from '../../src/core/plan.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'
import { CACHE_APP_SERVICE, cacheAppPlan, writeCacheApp } from '../helpers/cache-app.js'
import { rigEngineSettings, rigRunEnvironment } from '../helpers/engine-plan.js'
import { startImmutableRegistry, type ImmutableRegistry } from '../helpers/immutable-registry.js'
import { captureLogger } from '../helpers/logger.js'
import { buildctl, loadRig, type Rig } from '../helpers/rig.js'

let rig: Rig
let ecr: ImmutableRegistry
let client: RegistryClient

beforeAll(async () => {
  rig = loadRig()
  ecr = await startImmutableRegistry(rig.registry)
  client = new RegistryClient({
    credentials: h =>
      h === rig.registry || h === ecr.host
        ? { username: rig.registryUsername, password: rig.registryPassword }
        : undefined
  })
})

afterAll(async () => {
  await ecr?.close()
})

const SERVICE = CACHE_APP_SERVICE
const writeApp = (): Promise<string> => writeCacheApp('cache-tags-app-')
const plan = cacheAppPlan

/** Adds a cacheable RUN before the BUILD_ID step: only a cache written after it has it. */
async function addStep(root: string): Promise<void> {
  const file = path.join(root, 'Dockerfile')
  const text = await readFile(file, 'utf8')
  await writeFile(file, text.replace('ARG BUILD_ID', 'RUN echo three > /three\nARG BUILD_ID'))
}

async function prune(): Promise<void> {
  expect((await buildctl(['prune', '--all'])).exitCode).toBe(0)
}

async function digestOf(ref: string): Promise<string | undefined> {
  return (await client.findManifest(parseReference(ref)))?.digest
}

describe.each(['buildctl', 'buildx'] as const)('cache tags with %s', engine => {
  const settings = (registry: string, over: Partial<EngineSettings> = {}): EngineSettings =>
    rigEngineSettings(rig, engine, registry, { cache: 'registry', ...over })

  /** A pruned builder, then buildPlan through the refusing registry. */
  async function build(p: Plan, s: EngineSettings, previousBuildId?: string) {
    await prune()
    const c = captureLogger()
    const tempDir = await mkdtemp(path.join(tmpdir(), 'cache-tags-run-'))
    const r = await buildPlan(p, s, rigRunEnvironment(rig, c, tempDir), { previousBuildId })
    const service = r.services.find(x => x.name === SERVICE)!
    expect(service.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(await digestOf(service.image)).toBe(service.digest)
    for (const text of [c.text(), JSON.stringify(r)]) {
      expect(text).not.toContain(rig.registryPassword)
      expect(text).not.toContain(rig.hubPassword)
    }
    return { r, service, log: c.text() }
  }

  it('auto: the refusal switches to a cache tag per build, read back by the next build', async () => {
    const root = await writeApp()
    const registry = `${ecr.host}/cache-tags-${engine}-${randomBytes(4).toString('hex')}`
    const shared = `${registry}:${SERVICE}.buildcache`
    const s = settings(registry)

    // The first build writes the shared tag (it does not exist yet: the registry takes it).
    const p1 = plan(root, registry)
    const first = await build(p1, s)
    expect(first.r.warnings).toEqual([])
    const sharedDigest = await digestOf(shared)
    expect(sharedDigest).toBeDefined()

    // The second is served from the first one's cache (two RUNs and the COPY), then its cache export is
    // refused: one warning, and the cache goes under its own tag in this same run.
    const p2 = plan(root, registry)
    const second = await build(p2, s, p1.buildId)
    expect(second.service).toMatchObject({ cachedSteps: 3, totalSteps: 5 })
    expect(second.r.warnings).toHaveLength(1)
    expect(second.r.warnings[0]).toContain(
      `the registry refuses to overwrite the cache tag ${shared}`
    )
    expect(second.r.warnings[0]).toContain(
      'cannot be overwritten because the repository is immutable'
    )
    expect(second.log).toContain(
      `exporting the cache again under ${registry}:${SERVICE}.buildcache.${p2.buildId} (the build is in BuildKit's cache`
    )
    expect(ecr.refused).toContain(`${registry.slice(ecr.host.length + 1)}:${SERVICE}.buildcache`)
    expect(await digestOf(`${registry}:${SERVICE}.buildcache.${p2.buildId}`)).toBeDefined()
    expect(await digestOf(shared)).toBe(sharedDigest)

    // A step the shared tag never got: the third build (previous: the second) writes it under
    // its own tag, and the fourth (previous: the third) is served that step from there.
    await addStep(root)
    const p3 = plan(root, registry)
    const third = await build(p3, s, p2.buildId)
    expect(third.service).toMatchObject({ cachedSteps: 3, totalSteps: 6 })
    expect(await digestOf(`${registry}:${SERVICE}.buildcache.${p3.buildId}`)).toBeDefined()
    const fourth = await build(plan(root, registry), s, p3.buildId)
    expect(fourth.service).toMatchObject({ cachedSteps: 4, totalSteps: 6 })
  })

  it('immutable: a tag per build from the start, no warning; mutable: a warning, never a failure', async () => {
    const root = await writeApp()
    const registry = `${ecr.host}/cache-tags-forced-${engine}-${randomBytes(4).toString('hex')}`
    const p1 = plan(root, registry)
    const first = await build(p1, settings(registry, { cacheTags: 'immutable' }))
    expect(first.r.warnings).toEqual([])
    expect(await digestOf(`${registry}:${SERVICE}.buildcache.${p1.buildId}`)).toBeDefined()
    expect(await digestOf(`${registry}:${SERVICE}.buildcache`)).toBeUndefined()
    const p2 = plan(root, registry)
    const second = await build(p2, settings(registry, { cacheTags: 'immutable' }), p1.buildId)
    expect(second.service).toMatchObject({ cachedSteps: 3, totalSteps: 5 })
    expect(second.r.warnings).toEqual([])

    // mutable: the shared tag is written once, then refused: a warning with the fix.
    await build(plan(root, registry), settings(registry, { cacheTags: 'mutable' }))
    const p4 = plan(root, registry)
    const mutable = await build(p4, settings(registry, { cacheTags: 'mutable' }), p2.buildId)
    expect(mutable.service).toMatchObject({ cachedSteps: 3, totalSteps: 5 })
    expect(mutable.r.warnings).toHaveLength(1)
    expect(mutable.r.warnings[0]).toMatch(
      /^web: the registry refuses to overwrite the cache tag .*set cache-tags to auto or immutable/
    )
    expect(await digestOf(`${registry}:${SERVICE}.buildcache.${p4.buildId}`)).toBeUndefined()
  })
})
