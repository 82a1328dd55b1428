// Reuse of unchanged builds on the rig: each ingredient of the content key changed on its own
// rebuilds, nothing changed reuses (same manifest bytes, tagged registry-side), for both engines.
// The base image lives in a repository of this file's own on the Docker Hub stand-in, so moving
// its tag touches no other test.
import { beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan, type EngineSettings } from '../../src/core/engine/index.js'
import type { Plan } from '../../src/core/plan.js'
import { RegistryClient, sha256 } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'
import { keyTag } from '../../src/core/reuse/index.js'
import { buildId, makePlan, rigEngineSettings, rigRunEnvironment } from '../helpers/engine-plan.js'
import { captureLogger } from '../helpers/logger.js'
import { loadRig, uniqueRepo, type Rig } from '../helpers/rig.js'

let rig: Rig
let hub: RegistryClient
let push: RegistryClient
/** `reuse-base-<random>`: docker.io/library/<it> resolves to the stand-in. */
let baseName: string

beforeAll(async () => {
  rig = loadRig()
  hub = new RegistryClient({
    credentials: h =>
      h === rig.hubRegistry ? { username: rig.hubUsername, password: rig.hubPassword } : undefined
  })
  push = new RegistryClient({
    credentials: h =>
      h === rig.registry
        ? { username: rig.registryUsername, password: rig.registryPassword }
        : undefined
  })
  baseName = `reuse-base-${randomBytes(4).toString('hex')}`
  await pushBase('one')
})

/**
 * Pushes busybox under `library/<baseName>:1` with a label of its own: each variant is a new
 * manifest digest for the same tag (a moved tag, as `node:20` moves).
 */
async function pushBase(variant: string): Promise<string> {
  const from = parseReference(`${rig.hubRegistry}/library/busybox:latest`)
  const to = parseReference(`${rig.hubRegistry}/library/${baseName}:1`)
  const m = await hub.getManifest(from)
  const config = JSON.parse(await blobText(from, m.json.config!.digest)) as {
    config: { Labels?: Record<string, string> }
  }
  config.config.Labels = { variant }
  const configBytes = Buffer.from(JSON.stringify(config))
  const configDigest = sha256(configBytes)
  await hub.uploadBlob(to, { digest: configDigest, size: configBytes.length }, async () => {
    const { Readable } = await import('node:stream')
    return Readable.from([configBytes])
  })
  for (const l of m.json.layers ?? []) {
    await hub.uploadBlob(to, l, async () => (await hub.getBlob(from, l.digest)).stream, {
      mountFrom: from
    })
  }
  const manifest = Buffer.from(
    JSON.stringify({
      ...m.json,
      config: { ...m.json.config!, digest: configDigest, size: configBytes.length }
    })
  )
  return hub.putManifest(to, manifest, m.mediaType)
}

async function blobText(ref: ReturnType<typeof parseReference>, digest: string): Promise<string> {
  const { stream } = await hub.getBlob(ref, digest)
  const parts: Buffer[] = []
  for await (const p of stream) parts.push(p as Buffer)
  return Buffer.concat(parts).toString('utf8')
}

interface App {
  root: string
  file(name: string, text: string): Promise<void>
}

/** Two services sharing a build with two stages (target `dev`), `.dockerignore` excluding `*.log`. */
async function writeApp(): Promise<App> {
  const root = await mkdtemp(path.join(tmpdir(), 'reuse-app-'))
  const file = (name: string, text: string) => writeFile(path.join(root, name), text)
  await file(
    'Dockerfile',
    [
      `FROM ${baseName}:1 AS base`,
      'ARG GREETING=hello',
      `RUN echo "$GREETING ${randomBytes(4).toString('hex')}" > /greeting`,
      'COPY . /app',
      'FROM base AS dev',
      'RUN echo dev > /stage',
      'FROM base',
      'RUN echo prod > /stage',
      ''
    ].join('\n')
  )
  await file('.dockerignore', '*.log\n')
  await file('index.html', 'hello\n')
  await file('debug.log', 'one\n')
  return { root, file }
}

interface Variant {
  args?: Record<string, string>
  target?: string | null
  platforms?: string[]
}

function plan(app: App, registry: string, v: Variant = {}): Plan {
  return makePlan({
    root: app.root,
    registry,
    buildId: buildId(),
    builds: [
      {
        services: ['web', 'worker'],
        context: '.',
        argValues: v.args ?? { GREETING: 'hello' },
        target: v.target ?? null
      }
    ]
  })
}

async function build(p: Plan, s: EngineSettings) {
  const c = captureLogger()
  const tempDir = await mkdtemp(path.join(tmpdir(), 'reuse-run-'))
  try {
    const r = await buildPlan(p, s, rigRunEnvironment(rig, c, tempDir))
    return { result: r, web: r.services.find(x => x.name === 'web')!, log: c.text() }
  } finally {
    await rm(tempDir, { recursive: true, force: true })
  }
}

async function manifestBytes(ref: string): Promise<Buffer> {
  return (await push.getManifest(parseReference(ref))).bytes
}

describe.each(['buildctl', 'buildx'] as const)('reuse with %s', engine => {
  const settings = (registry: string, over: Partial<EngineSettings> = {}): EngineSettings =>
    rigEngineSettings(rig, engine, registry, { reuse: true, ...over })

  it('an unchanged build is reused: same manifest bytes under every service tag, no BuildKit run', async () => {
    const app = await writeApp()
    const registry = uniqueRepo(`reuse-same-${engine}`, rig)
    const first = await build(plan(app, registry), settings(registry))
    expect(first.web.reusedFrom).toBeUndefined()
    expect(first.result.engineMs).toBeGreaterThan(0)

    const p2 = plan(app, registry)
    const second = await build(p2, settings(registry))
    // Found through the key tag the first push recorded; no BuildKit process ran.
    expect(second.result.engineMs).toBe(0)
    expect(second.web.reusedFrom).toMatch(
      new RegExp(`^${registry.replace(/[.]/g, '\\.')}:(web|worker)\\.[0-9a-f]{32}$`)
    )
    expect(second.log).toMatch(/unchanged \(content key [0-9a-f]{32}\): reused/)
    for (const s of second.result.services) {
      expect(s.digest).toBe(first.result.services.find(f => f.name === s.name)!.digest)
      expect(s.reusedFrom).toBe(second.web.reusedFrom)
      const before = first.result.services.find(f => f.name === s.name)!.image
      expect((await manifestBytes(s.image)).equals(await manifestBytes(before))).toBe(true)
    }
    const tagKey = second.web.reusedFrom!.split('.').at(-1)!
    expect(keyTag('worker', tagKey).length).toBeLessThanOrEqual(128)
    expect((await manifestBytes(`${registry}:${keyTag('worker', tagKey)}`)).length).toBeGreaterThan(
      0
    )

    // no-cache and reuse: false build again.
    for (const over of [{ noCache: true }, { reuse: false }]) {
      const again = await build(plan(app, registry), settings(registry, over))
      expect(again.web.reusedFrom).toBeUndefined()
      expect(again.result.engineMs).toBeGreaterThan(0)
    }
  })
})

describe('reuse: each ingredient of the key rebuilds on its own (buildctl)', () => {
  const settings = (registry: string, over: Partial<EngineSettings> = {}): EngineSettings =>
    rigEngineSettings(rig, 'buildctl', registry, { reuse: true, ...over })

  it('context file, ignored file, Dockerfile, arg, target, platform, moved base image', async () => {
    const app = await writeApp()
    const registry = uniqueRepo('reuse-ingredients', rig)
    const s = settings(registry)
    const reused = async (v: Variant = {}, over: Partial<EngineSettings> = {}) => {
      const r = await build(plan(app, registry, v), { ...s, ...over })
      return r.web.reusedFrom !== undefined
    }
    expect(await reused()).toBe(false)
    expect(await reused()).toBe(true)

    // A file the .dockerignore excludes: not part of the context, reused.
    await app.file('debug.log', 'two\n')
    expect(await reused()).toBe(true)
    // A context file.
    await app.file('index.html', 'changed\n')
    expect(await reused()).toBe(false)
    expect(await reused()).toBe(true)
    // A new file.
    await app.file('new.txt', 'new\n')
    expect(await reused()).toBe(false)
    // The Dockerfile.
    await app.file(
      'Dockerfile',
      (await import('node:fs')).readFileSync(path.join(app.root, 'Dockerfile'), 'utf8') +
        'RUN true\n'
    )
    expect(await reused()).toBe(false)
    expect(await reused()).toBe(true)
    // An arg value.
    expect(await reused({ args: { GREETING: 'bonjour' } })).toBe(false)
    expect(await reused({ args: { GREETING: 'bonjour' } })).toBe(true)
    // The target.
    expect(await reused({ target: 'dev' })).toBe(false)
    expect(await reused({ target: 'dev' })).toBe(true)
    // The platforms: none given means the builder's own (linux/amd64 here), which is in the key,
    // so naming it changes nothing; another platform rebuilds.
    expect(await reused({}, { platforms: ['linux/amd64'] })).toBe(true)
    expect(await reused({}, { platforms: ['linux/arm64'] })).toBe(false)
    expect(await reused({}, { platforms: ['linux/arm64'] })).toBe(true)
    expect(await reused({}, { platforms: ['linux/amd64', 'linux/arm64'] })).toBe(false)
    expect(await reused({}, { platforms: ['linux/amd64', 'linux/arm64'] })).toBe(true)
    // The base image moved to a new digest under the same tag.
    await pushBase('two')
    expect(await reused()).toBe(false)
    expect(await reused()).toBe(true)
  })

  it('a Dockerfile that declares BUILD_ID is built every time, and says so', async () => {
    const app = await writeApp()
    await app.file('Dockerfile', `FROM ${baseName}:1\nARG BUILD_ID\nRUN echo "$BUILD_ID" > /id\n`)
    const registry = uniqueRepo('reuse-build-id', rig)
    const withId = (): Plan => {
      const p = plan(app, registry, { args: {} })
      p.builds[0]!.argValues = { BUILD_ID: p.buildId }
      p.builds[0]!.args = ['BUILD_ID']
      return p
    }
    await build(withId(), settings(registry))
    const second = await build(withId(), settings(registry))
    expect(second.web.reusedFrom).toBeUndefined()
    expect(second.log).toContain('declares BUILD_ID, which changes on every build')
    expect(second.log.match(/declares BUILD_ID/g)).toHaveLength(1)
  })
})
