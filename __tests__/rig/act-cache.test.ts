// The `gha` cache for real: act runs __tests__/act/workflows/cache.yml on the host with act's own
// cache server (the v1 cache API: ACTIONS_CACHE_URL + ACTIONS_RUNTIME_TOKEN), building the example
// app twice with `buildctl prune --all` in between, so the second build is served by that server.
// The workflow prunes the shared buildkitd: this file must not run alongside other rig files.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  actArgs,
  rigWorkflowEnv,
  actEnv,
  actPath,
  envFileText,
  freePort,
  parseActLog,
  runAct,
  type ActRun,
  type ActStep
} from '../helpers/act.js'
import { loadRig, uniqueRepo, type Rig } from '../helpers/rig.js'

const WORKFLOW = '__tests__/act/workflows/cache.yml'
const ACT_TIMEOUT_MS = 300_000

let rig: Rig
const temps: string[] = []
beforeAll(() => {
  rig = loadRig()
})
afterAll(async () => {
  for (const t of temps) await rm(t, { recursive: true, force: true })
})

/**
 * A runtime token shaped like the runner's (a JWT whose `ac` claim lists the cache scopes, here
 * the default scope with read and write). BuildKit's cache client reads the scopes from it and
 * act's cache server checks nothing, so the signature does not matter.
 */
function runtimeToken(): string {
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  return [
    part({ alg: 'HS256', typ: 'JWT' }),
    part({
      nbf: now - 60,
      exp: now + 3600,
      scp: 'Actions.Results:1:1',
      ac: JSON.stringify([{ Scope: '', Permission: 3 }])
    }),
    'c2lnbmF0dXJl'
  ].join('.')
}

interface CacheRun {
  run: ActRun
  steps: ActStep[]
  cacheDir: string
  repo: string
  out: string
}

/**
 * Runs the workflow with act's cache server on loopback. `artifactServer` also starts act's
 * artifact server, which makes act set ACTIONS_RESULTS_URL (and its own runtime token).
 */
async function runCacheWorkflow(
  engine: 'buildctl' | 'buildx',
  artifactServer: boolean
): Promise<CacheRun> {
  const act = actPath(rig)
  const tmp = await mkdtemp(join(tmpdir(), 'convox-build-act-cache-'))
  temps.push(tmp)
  const out = join(tmp, 'out')
  const cacheDir = join(tmp, 'cache-server')
  const home = join(tmp, 'home')
  await Promise.all([out, cacheDir, home, join(tmp, 'actions')].map(d => mkdir(d)))
  const repo = uniqueRepo(`act-cache-${engine}`, rig)
  await writeFile(
    join(tmp, 'env'),
    rigWorkflowEnv(rig, {
      ACT_REPO: repo,
      ACT_OUT: out,
      ENGINE: engine,
      // Without the artifact server act sets no runtime token; a runner always has one.
      ...(artifactServer ? {} : { ACTIONS_RUNTIME_TOKEN: runtimeToken() })
    })
  )
  await writeFile(
    join(tmp, 'secrets'),
    envFileText({ REGISTRY_PASSWORD: rig.registryPassword, HUB_PASSWORD: rig.hubPassword }),
    { mode: 0o600 }
  )
  const args = actArgs(WORKFLOW, tmp, [
    // act's cache server, where buildkitd (on this host) reaches it.
    '--cache-server-addr',
    '127.0.0.1',
    '--cache-server-port',
    String(await freePort()),
    '--cache-server-path',
    cacheDir
  ])
  if (artifactServer) {
    const artifacts = join(tmp, 'artifacts')
    await mkdir(artifacts)
    args.push(
      '--artifact-server-path',
      artifacts,
      '--artifact-server-addr',
      '127.0.0.1',
      '--artifact-server-port',
      String(await freePort())
    )
  }
  const run = await runAct(act, args, actEnv(rig, home, {}), ACT_TIMEOUT_MS)
  await writeFile(join(tmp, 'act.log'), run.output)
  return { run, steps: parseActLog(run.output), cacheDir, repo, out }
}

function explain(r: CacheRun, what: string): string {
  const tail = r.run.output.split('\n').slice(-150).join('\n')
  return `${what}\nact exited ${r.run.code ?? r.run.signal} after ${r.run.ms} ms; its log ends:\n${tail}`
}

/** `Build <who>: c/t steps cached` of the n-th `Main ./` step, per build. */
function cached(r: CacheRun, nth: number): Record<string, { cached: number; total: number }> {
  const step = r.steps.filter(s => s.name === 'Main ./')[nth]
  if (!step) throw new Error(explain(r, `act reported no "Main ./" step #${nth + 1}`))
  const found: Record<string, { cached: number; total: number }> = {}
  for (const line of step.lines) {
    const m = /::group::Build (.+): (\d+)\/(\d+) steps cached/.exec(line)
    if (m) found[m[1]!] = { cached: Number(m[2]), total: Number(m[3]) }
  }
  return found
}

function mainLines(r: CacheRun, nth: number): string {
  return (r.steps.filter(s => s.name === 'Main ./')[nth]?.lines ?? []).join('\n')
}

/** Asserts the job ran, the second build came from the gha cache, and nothing failed on the way. */
async function expectServedFromGha(r: CacheRun): Promise<void> {
  if (r.run.code !== 0) throw new Error(explain(r, 'the act run failed'))
  expect(r.steps.filter(s => s.name === 'Main ./').map(s => s.result)).toEqual([
    'success',
    'success'
  ])
  expect(r.steps.find(s => s.name === 'Main Empty the builder between the builds')?.result).toBe(
    'success'
  )
  // No gha import or export failed (a cache export failure does not fail the build).
  for (const nth of [0, 1]) {
    expect(mainLines(r, nth)).not.toMatch(
      /(importing cache manifest|GitHub Actions Cache)[^\n]*\n[^\n]*ERROR/
    )
    expect(mainLines(r, nth)).not.toMatch(/ERROR: failed to parse error response/)
  }
  // act's cache server stored the layers and indexes.
  expect((await readdir(join(r.cacheDir, 'cache'))).length).toBeGreaterThan(0)

  const first = cached(r, 0)
  const second = cached(r, 1)
  expect(Object.keys(first).sort()).toEqual(['api', 'web, worker'])
  // Nothing but the FROM step can be cached in the first build: after the prune a BuildKit job
  // that an earlier test's killed client left running may still hold the base image.
  expect(first.api!.cached).toBeLessThanOrEqual(1)
  expect(first['web, worker']!.cached).toBeLessThanOrEqual(1)
  // The builder was emptied: every step but FROM (never pulled from a cache) is a hit.
  expect(second.api!.total).toBe(first.api!.total)
  expect(second.api!.cached).toBeGreaterThanOrEqual(first.api!.total - 1)
  expect(second['web, worker']!.cached).toBeGreaterThanOrEqual(first['web, worker']!.total - 1)

  // Both builds pushed their images (different build ids, same app).
  const outputs = [0, 1].map(
    async n =>
      JSON.parse(
        await readFile(join(r.out, `${n === 0 ? 'first' : 'second'}-outputs.json`), 'utf8')
      ) as Record<string, string>
  )
  const [o1, o2] = await Promise.all(outputs)
  expect(o1!['build-id']).toMatch(/^B[A-Z]{10}$/)
  expect(o2!['build-id']).toMatch(/^B[A-Z]{10}$/)
  expect(o2!['build-id']).not.toBe(o1!['build-id'])
  const images = JSON.parse(o2!.images ?? '{}') as Record<string, string>
  expect(images.api).toBe(`${r.repo}:api.${o2!['build-id']}`)

  expect(r.run.output).not.toContain(rig.registryPassword)
  expect(r.run.output).not.toContain(rig.hubPassword)
}

describe.each(['buildctl', 'buildx'] as const)('cache gha through act (%s)', engine => {
  it('a v1 cache service (ACTIONS_CACHE_URL and a token): the second build is served from it', async () => {
    const r = await runCacheWorkflow(engine, false)
    await expectServedFromGha(r)
    expect(cached(r, 1).api!.cached).toBeGreaterThan(0)
  }, 360_000)

  // BuildKit (cache/remotecache/gha getConfig) speaks v2 to any `url_v2`: with no
  // ACTIONS_CACHE_SERVICE_V2 the action passes the v1 service only, as @actions/cache would.
  it('with ACTIONS_RESULTS_URL set too but no ACTIONS_CACHE_SERVICE_V2: still the v1 service', async () => {
    const r = await runCacheWorkflow(engine, true)
    await expectServedFromGha(r)
    expect(cached(r, 1).api!.cached).toBeGreaterThan(0)
  }, 360_000)
})
