// Benchmark on the rig: our engine vs the rack's way (plain buildctl, one service after another,
// no dedupe), cold and warm (registry cache on an empty builder), and our overhead.
import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan, type EngineSettings } from '../../src/core/engine/index.js'
import { spawnExec } from '../../src/core/exec.js'
import { silentLogger } from '../../src/core/log.js'
import type { Plan } from '../../src/core/plan.js'
import {
  buildId,
  examplePlan,
  rigEngineSettings,
  writeSleepyApp
} from '../../__tests__/helpers/engine-plan.js'
import {
  buildctl,
  loadRig,
  makeDockerConfig,
  rigEnv,
  rigLogins,
  uniqueRepo,
  type Rig
} from '../../__tests__/helpers/rig.js'
import { Redactor } from '../../src/core/secrets.js'

const SLEEP_SECONDS = 5

async function prune(): Promise<void> {
  const r = await buildctl(['prune', '--all'])
  if (r.exitCode !== 0) throw new Error(`buildctl prune failed: ${r.stderr}`)
}

function engineSettings(rig: Rig, registry: string, concurrency: number): EngineSettings {
  return rigEngineSettings(rig, 'buildctl', registry, { concurrency })
}

async function ours(
  rig: Rig,
  plan: Plan
): Promise<{ ms: number; overheadMs: number; cached: number; total: number }> {
  const tempDir = await mkdtemp(path.join(tmpdir(), 'bench-'))
  const t0 = performance.now()
  const r = await buildPlan(plan, engineSettings(rig, plan.registry, plan.builds.length), {
    env: rigEnv(rig),
    logger: silentLogger,
    secrets: new Redactor(),
    exec: spawnExec,
    github: false,
    tempDir,
    localCacheDir: path.join(tempDir, 'cache')
  })
  const ms = performance.now() - t0
  return {
    ms,
    overheadMs: ms - r.engineMs,
    cached: r.builds.reduce((n, b) => n + b.cachedSteps, 0),
    total: r.builds.reduce((n, b) => n + b.totalSteps, 0)
  }
}

/** The rack: one `buildctl build` per service, one after another, each with its own cache. */
async function rackWay(rig: Rig, plan: Plan): Promise<number> {
  const dockerConfig = await makeDockerConfig(rigLogins(rig))
  const t0 = performance.now()
  for (const s of plan.services) {
    if (s.build === null) continue
    const b = plan.builds[s.build]!
    const cache = `${plan.registry}:${s.name}.buildcache`
    const args = [
      'build',
      '--frontend',
      'dockerfile.v0',
      '--local',
      `context=${b.contextPath}`,
      '--local',
      `dockerfile=${path.dirname(b.dockerfilePath)}`,
      '--opt',
      `filename=${path.basename(b.dockerfilePath)}`,
      ...Object.entries(b.argValues).flatMap(([k, v]) => ['--opt', `build-arg:${k}=${v}`]),
      '--export-cache',
      `type=registry,ref=${cache},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true`,
      '--import-cache',
      `type=registry,ref=${cache}`,
      '--output',
      `type=image,name=${s.image},push=true`
    ]
    const r = await buildctl(args, { dockerConfig })
    if (r.exitCode !== 0)
      throw new Error(`rack-style build of ${s.name} failed: ${r.stderr.slice(-500)}`)
  }
  return performance.now() - t0
}

interface Row {
  app: string
  rack: number
  cold: number
  warm: number
  overhead: number
  warmCached: string
}

async function measure(
  rig: Rig,
  app: string,
  key: string,
  makePlan: (registry: string, id: string) => Promise<Plan>
): Promise<Row> {
  // The rack's way, on an empty builder and an empty cache.
  await prune()
  const rack = await rackWay(rig, await makePlan(uniqueRepo(`bench-rack-${key}`, rig), buildId()))
  // Ours, cold: empty builder, empty registry cache.
  const registry = uniqueRepo(`bench-ours-${key}`, rig)
  await prune()
  const cold = await ours(rig, await makePlan(registry, buildId()))
  // Ours, warm: a new build on an empty builder, from the registry cache of the cold build.
  await prune()
  const warm = await ours(rig, await makePlan(registry, buildId()))
  return {
    app,
    rack,
    cold: cold.ms,
    warm: warm.ms,
    overhead: cold.overheadMs,
    warmCached: `${warm.cached}/${warm.total}`
  }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

export async function main(): Promise<void> {
  const rig = loadRig()
  const salt = randomBytes(4).toString('hex')
  const root = await mkdtemp(path.join(tmpdir(), 'bench-app-'))
  const rows: Row[] = []
  rows.push(
    await measure(
      rig,
      'example (4 services, 2 builds + 1 image)',
      'example',
      async (registry, id) => examplePlan(registry, id)
    )
  )
  rows.push(
    await measure(
      rig,
      `generated (6 services, 3 shared builds, 2×${SLEEP_SECONDS}s sleep steps)`,
      'generated',
      (registry, id) =>
        writeSleepyApp({ root, registry, pairs: 3, sleep: SLEEP_SECONDS, salt, buildId: id })
    )
  )
  const lines = [
    '| app | rack way (buildctl one by one) | ours cold | cold / rack | ours warm (registry cache, empty builder) | warm / cold | steps cached (warm) | our overhead |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      r =>
        `| ${r.app} | ${s(r.rack)} | ${s(r.cold)} | ${(r.cold / r.rack).toFixed(2)} | ${s(r.warm)} | ${(r.warm / r.cold).toFixed(2)} | ${r.warmCached} | ${Math.round(r.overhead)} ms |`
    )
  ]
  console.log(lines.join('\n'))
  const gen = rows[1]!
  const ok = gen.cold / gen.rack <= 0.5 && gen.warm / gen.cold <= 0.2
  console.log(
    `\n6-service app: cold/rack ${(gen.cold / gen.rack).toFixed(2)} (target <= 0.5), warm/cold ${(gen.warm / gen.cold).toFixed(2)} (target <= 0.2): ${ok ? 'OK' : 'MISSED'}`
  )
  if (!ok) process.exitCode = 1
}
