// The cache modes on the real rig, for both engines: each second build follows a
// `buildctl prune --all`, so only the chosen cache (never the builder's own) can serve it.
// Pruning empties the shared buildkitd: this file must not run alongside other rig files.
import { beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan, type EngineSettings } from '../../src/core/engine/index.js'
import type { Plan } from '../../src/core/plan.js'
import { CACHE_APP_SERVICE, cacheAppPlan, writeCacheApp } from '../helpers/cache-app.js'
import { buildId, rigEngineSettings, rigRunEnvironment } from '../helpers/engine-plan.js'
import { captureLogger } from '../helpers/logger.js'
import {
  buildctl,
  loadRig,
  makeDockerConfig,
  registryCreds,
  rigLogins,
  skopeo,
  uniqueRepo,
  type Rig
} from '../helpers/rig.js'

let rig: Rig
beforeAll(() => {
  rig = loadRig()
})

const SERVICE = CACHE_APP_SERVICE
const writeApp = (): Promise<string> => writeCacheApp('engine-cache-app-')
const plan = cacheAppPlan

/** buildPlan on the rig; the local cache lives in `localCacheDir` across builds. */
async function build(p: Plan, s: EngineSettings, localCacheDir: string) {
  const c = captureLogger()
  const tempDir = await mkdtemp(path.join(tmpdir(), 'engine-cache-run-'))
  const r = await buildPlan(p, s, rigRunEnvironment(rig, c, tempDir, localCacheDir))
  const service = r.services.find(x => x.name === SERVICE)!
  expect(service.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
  // FROM, RUN, RUN, COPY, RUN.
  expect(service.totalSteps).toBe(5)
  for (const text of [c.text(), JSON.stringify(r)]) {
    expect(text).not.toContain(rig.registryPassword)
    expect(text).not.toContain(rig.hubPassword)
  }
  return { result: r, service, log: c }
}

async function prune(): Promise<void> {
  const r = await buildctl(['prune', '--all'])
  expect(r.exitCode).toBe(0)
}

async function tags(repo: string): Promise<string[]> {
  const r = await skopeo([
    'list-tags',
    '--tls-verify=false',
    '--creds',
    registryCreds(rig),
    `docker://${repo}`
  ])
  expect(r.exitCode).toBe(0)
  return (JSON.parse(r.stdout) as { Tags: string[] }).Tags.sort()
}

describe.each(['buildctl', 'buildx'] as const)('cache modes with %s on the rig', engine => {
  const settings = (registry: string, over: Partial<EngineSettings>): EngineSettings =>
    rigEngineSettings(rig, engine, registry, over)

  it('local: a pruned builder is served from the cache directory, also after its rotation', async () => {
    const root = await writeApp()
    const registry = uniqueRepo(`cache-local-${engine}`, rig)
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'engine-cache-local-'))
    const s = settings(registry, { cache: 'local' })
    const dir = path.join(cacheDir, SERVICE)

    await prune()
    const first = await build(plan(root, registry), s, cacheDir)
    expect(first.service.cachedSteps).toBe(0)
    expect(existsSync(path.join(dir, 'index.json'))).toBe(true)
    // The export went to `<dir>.new` and was swapped in: nothing else is left beside it.
    expect(await readdir(cacheDir)).toEqual([SERVICE])

    await prune()
    const second = await build(plan(root, registry), s, cacheDir)
    // RUN, RUN and COPY come from the directory; the BUILD_ID step and FROM do not.
    expect(second.service.cachedSteps).toBe(3)
    expect(existsSync(path.join(dir, 'index.json'))).toBe(true)
    expect(await readdir(cacheDir)).toEqual([SERVICE])

    // The directory the second build exported (and rotated in) serves the third one.
    await prune()
    const third = await build(plan(root, registry), s, cacheDir)
    expect(third.service.cachedSteps).toBe(3)
    expect(existsSync(path.join(dir, 'index.json'))).toBe(true)
    // No registry cache was written.
    expect(await tags(registry)).not.toContain(`${SERVICE}.buildcache`)
  })

  it('none: nothing is exported and a pruned builder rebuilds everything', async () => {
    const root = await writeApp()
    const registry = uniqueRepo(`cache-none-${engine}`, rig)
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'engine-cache-none-'))
    const s = settings(registry, { cache: 'none' })

    await build(plan(root, registry), s, cacheDir)
    const pushed = await tags(registry)
    expect(pushed).toHaveLength(1)
    expect(pushed[0]).toMatch(new RegExp(`^${SERVICE}\\.B[A-Z]{10}$`))
    expect(await readdir(cacheDir)).toEqual([])

    await prune()
    const second = await build(plan(root, registry), s, cacheDir)
    expect(second.service.cachedSteps).toBe(0)
    expect(await tags(registry)).not.toContain(`${SERVICE}.buildcache`)
    expect(await readdir(cacheDir)).toEqual([])
  })

  it('noCache: with a warm registry cache (and a warm builder) nothing is cached', async () => {
    const root = await writeApp()
    const registry = uniqueRepo(`cache-nocache-${engine}`, rig)
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'engine-cache-nc-'))

    await build(plan(root, registry), settings(registry, { cache: 'registry' }), cacheDir)
    expect(await tags(registry)).toContain(`${SERVICE}.buildcache`)
    // The same plan is cached when asked: the registry cache is warm.
    await prune()
    const warm = await build(
      plan(root, registry),
      settings(registry, { cache: 'registry' }),
      cacheDir
    )
    expect(warm.service.cachedSteps).toBe(3)

    // No prune: neither the builder's own cache nor the registry's may serve a step.
    const cold = await build(
      plan(root, registry),
      settings(registry, { cache: 'registry', noCache: true }),
      cacheDir
    )
    expect(cold.service.cachedSteps).toBe(0)
    expect(cold.log.text()).not.toMatch(/importing cache manifest/)
  })

  it('inline: the pushed image carries the cache, which an explicit import reuses', async () => {
    const root = await writeApp()
    const registry = uniqueRepo(`cache-inline-${engine}`, rig)
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'engine-cache-inline-'))
    const first = await build(
      plan(root, registry),
      settings(registry, { cache: 'inline' }),
      cacheDir
    )
    // Inline means no separate cache image: the image itself, under a stable tag too.
    expect(await tags(registry)).toEqual(
      [first.service.image.split(':').at(-1)!, 'web.inlinecache'].sort()
    )

    // Importing the pushed image itself after a prune: its inline cache serves the steps.
    await prune()
    const r = await buildctl(
      [
        'build',
        '--frontend',
        'dockerfile.v0',
        '--local',
        `context=${root}`,
        '--local',
        `dockerfile=${root}`,
        '--opt',
        `build-arg:BUILD_ID=${buildId()}`,
        '--import-cache',
        `type=registry,ref=${first.service.image}`,
        '--progress',
        'plain'
      ],
      { dockerConfig: await makeDockerConfig(rigLogins(rig)) }
    )
    expect(r.exitCode).toBe(0)
    const cached = r.stderr.split('\n').filter(l => /^#\d+ CACHED$/.test(l.trim()))
    // Both RUN steps; buildctl also matches the COPY of a buildctl build, not of a buildx one.
    expect(cached.length).toBeGreaterThanOrEqual(2)
    expect(r.stderr).toMatch(/\[2\/5\] RUN echo [0-9a-f]+ > \/one\n#\d+ CACHED/)
    expect(r.stderr).toMatch(/\[3\/5\] RUN echo two > \/two\n#\d+ CACHED/)
  })

  // Images are tagged per BUILD_ID: the inline cache is found through `<service>.inlinecache`.
  it('inline: after a prune the second build is served from the pushed image', async () => {
    const root = await writeApp()
    const registry = uniqueRepo(`cache-inline2-${engine}`, rig)
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'engine-cache-inline2-'))
    const s = settings(registry, { cache: 'inline' })
    await build(plan(root, registry), s, cacheDir)
    await prune()
    const second = await build(plan(root, registry), s, cacheDir)
    expect(second.service.cachedSteps).toBeGreaterThan(0)
  })
})
