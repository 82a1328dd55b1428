// `npm run bench`: on the rig's one BuildKit daemon, alternating and repeated, medians of the
// trials: (a) our CLI as users run it (`node dist/cli.js build`, bundled from these sources into
// a temporary directory, on its defaults: only app, registry and its login, the Docker Hub
// stand-in and its login, engine and BuildKit address), (b) `docker buildx bake` from a generated
// bake file (one target per service, registry cache per service as bake users write it, push),
// (c) the rack's way: one `buildctl build` per service, one after another.
//   cold:      empty builder (`buildctl prune --all`), content never built (no registry cache)
//   warm:      empty builder, one file of each build changed, registry cache of the cold build
//   no change: the warm content again (ours reuses; bake and the rack have no reuse: their
//              figure is their warm one)
// The app: 7 services, 3 builds shared by 2 services each (two `sleep 4` steps each, so waiting,
// not CPU, decides) and one image service; the critical path is one build's sleeps, 8 s.
// Our overhead is the CLI's wall time minus the time a BuildKit build process ran, measured by
// wrappers of buildctl and docker that record when each `build` ran.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawnExec } from '../../src/core/exec.js'
import { buildDir } from '../../__tests__/helpers/dockerfile-build.js'
import { buildId } from '../../__tests__/helpers/engine-plan.js'
import { pipelineEnv } from '../../__tests__/helpers/pipeline.js'
import {
  buildctl,
  loadRig,
  makeDockerConfig,
  REPO_ROOT,
  rigCliFlags,
  rigLogins,
  uniqueRepo,
  type Rig
} from '../../__tests__/helpers/rig.js'
import { bake as runBake } from './bake.js'
import { check, cliBuildArgs, commit, median, ratio as x, sec } from './common.js'

const SLEEP = 4
const BUILDS = 3
const CRITICAL_MS = 2 * SLEEP * 1000
const TRIALS = Math.max(2, Number(process.env.BENCH_TRIALS ?? 2))
const ENGINE = process.env.BENCH_ENGINE === 'buildx' ? 'buildx' : 'buildctl'
const TOOLS = ['ours', 'bake', 'rack'] as const
type Tool = (typeof TOOLS)[number]
type Case = 'cold' | 'warm' | 'nochange'

interface Sample {
  ms: number
  /** Ours only: wall time minus the time a BuildKit build process ran. */
  overheadMs?: number
  /** Ours only: of the overhead, the time before the first build process started. */
  beforeMs?: number
  /** Ours only: services reused. */
  reused?: number
  /** Ours only: the image-service copy started this long after the first build, before they ended. */
  copyOverlap?: boolean
}

interface Bench {
  rig: Rig
  work: string
  cli: string
  wrapDir: string
  engineLog: string
  dockerConfig: string
}

const services = Array.from({ length: BUILDS }, (_, i) => [`a${i}`, `b${i}`]).flat()

/** The app as a git checkout (the CLI reads the commit): convox.yml, svc<i>/Dockerfile. */
async function writeApp(dir: string, salt: string): Promise<void> {
  const yml = ['services:']
  for (let i = 0; i < BUILDS; i++) {
    const svc = path.join(dir, `svc${i}`)
    await mkdir(svc, { recursive: true })
    await writeFile(
      path.join(svc, 'Dockerfile'),
      [
        'FROM busybox',
        `RUN echo ${salt}-${i} > /step1 && sleep ${SLEEP}`,
        `RUN echo two > /step2 && sleep ${SLEEP}`,
        'COPY hello.txt /hello.txt',
        ''
      ].join('\n')
    )
    await writeFile(path.join(svc, 'hello.txt'), `hello ${i}\n`)
    yml.push(`  a${i}:`, `    build: svc${i}`, `  b${i}:`, `    build: svc${i}`)
  }
  yml.push('  cache:', '    image: busybox:1.36', '')
  await writeFile(path.join(dir, 'convox.yml'), yml.join('\n'))
  commit(dir, 'app')
}

async function prune(): Promise<void> {
  const r = await buildctl(['prune', '--all'])
  if (r.exitCode !== 0) throw new Error(`buildctl prune failed: ${r.stderr}`)
}

/** Wrappers recording `<start> <end>` (ms) of every BuildKit build process. */
async function writeWrappers(b: Omit<Bench, 'cli'>): Promise<void> {
  const real = {
    buildctl: path.join(b.rig.rigBin, 'buildctl'),
    docker: execFileSync('sh', ['-c', 'command -v docker']).toString().trim()
  }
  for (const [name, target] of Object.entries(real)) {
    const file = path.join(b.wrapDir, name)
    await writeFile(
      file,
      [
        '#!/bin/bash',
        'case " $* " in *" build "*|*" bake "*) ;; *) exec ' + target + ' "$@" ;; esac',
        's=$(date +%s%3N)',
        `${target} "$@"`,
        'rc=$?',
        `echo "$s $(date +%s%3N)" >> "$BENCH_ENGINE_LOG"`,
        'exit $rc',
        ''
      ].join('\n')
    )
    await chmod(file, 0o755)
  }
}

async function engineIntervals(file: string): Promise<Array<[number, number]>> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter(Boolean)
    .map(l => l.split(' ').map(Number) as [number, number])
}

function unionMs(intervals: Array<[number, number]>): number {
  let total = 0
  let end = -Infinity
  for (const [s, e] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (e <= end) continue
    total += e - Math.max(s, end)
    end = e
  }
  return total
}

/** (a) our CLI on its defaults. */
async function ours(b: Bench, app: string, repo: string): Promise<Sample> {
  await rm(b.engineLog, { force: true })
  // pipelineEnv, not rigCliEnv: it also drops the caller's CONVOX_* and CI variables.
  const base = pipelineEnv(b.rig)
  const env = {
    ...base,
    PATH: `${b.wrapDir}:${base.PATH ?? ''}`,
    BENCH_ENGINE_LOG: b.engineLog,
    XDG_CACHE_HOME: path.join(b.work, 'xdg'),
    CONVOX_BUILD_REGISTRY_PASSWORD: b.rig.registryPassword,
    CONVOX_BUILD_DOCKER_HUB_PASSWORD: b.rig.hubPassword
  }
  const engineFlags =
    ENGINE === 'buildctl'
      ? rigCliFlags(b.rig)
      : [
          '--engine',
          'buildx',
          '--builder',
          b.rig.buildxBuilder,
          '--docker-hub-registry',
          b.rig.hubRegistry,
          '--docker-hub-username',
          b.rig.hubUsername
        ]
  const args = cliBuildArgs(b.cli, repo, b.rig.registryUsername, engineFlags)
  const stamps: Array<[number, string]> = []
  const t0 = Date.now()
  const r = await spawnExec(process.execPath, args, {
    cwd: app,
    env,
    onStderrLine: l => stamps.push([Date.now(), l])
  })
  const ms = Date.now() - t0
  check(r, 'convox-build')
  const result = JSON.parse(r.stdout) as { services: { name: string; reusedFrom?: string }[] }
  const intervals = await engineIntervals(b.engineLog)
  const copyAt = stamps.find(([, l]) => /\[cache\] copying/.test(l))?.[0]
  const firstBuild = Math.min(...intervals.map(i => i[0]))
  const lastBuild = Math.max(...intervals.map(i => i[1]))
  return {
    ms,
    overheadMs: ms - unionMs(intervals),
    beforeMs: intervals.length > 0 ? firstBuild - t0 : ms,
    reused: result.services.filter(s => s.reusedFrom).length,
    copyOverlap:
      copyAt !== undefined && intervals.length > 0
        ? copyAt < lastBuild && copyAt >= firstBuild - 1000
        : undefined
  }
}

/** (b) docker buildx bake, one target per service, registry cache per service, push. */
async function bake(b: Bench, app: string, repo: string, id: string): Promise<Sample> {
  const ms = await runBake({
    app,
    repo,
    id,
    targets: services.map((s, n) => [s, `svc${Math.floor(n / 2)}`]),
    builder: b.rig.buildxBuilder,
    env: { ...pipelineEnv(b.rig), BUILDX_CONFIG: b.rig.buildxConfig, DOCKER_CONFIG: b.dockerConfig }
  })
  return { ms }
}

/** (c) the rack: one `buildctl build` per service, one after another, each with its own cache. */
async function rack(b: Bench, app: string, repo: string, id: string): Promise<Sample> {
  const t0 = Date.now()
  for (const [n, s] of services.entries()) {
    const dir = path.join(app, `svc${Math.floor(n / 2)}`)
    const cache = `${repo}:${s}.buildcache`
    const r = await buildDir(dir, `type=image,name=${repo}:${s}.${id},push=true`, {
      dockerConfig: b.dockerConfig,
      rig: b.rig,
      flags: [
        '--export-cache',
        `type=registry,ref=${cache},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true`,
        '--import-cache',
        `type=registry,ref=${cache}`
      ]
    })
    check(r, `rack-style build of ${s}`)
  }
  return { ms: Date.now() - t0 }
}

async function run(tool: Tool, b: Bench, app: string, repo: string): Promise<Sample> {
  const id = buildId()
  if (tool === 'ours') return ours(b, app, repo)
  if (tool === 'bake') return bake(b, app, repo, id)
  return rack(b, app, repo, id)
}

export async function main(): Promise<void> {
  const rig = loadRig()
  const work = await mkdtemp(path.join(tmpdir(), 'bench-'))
  const wrapDir = path.join(work, 'wrap')
  await mkdir(wrapDir)
  const partial = {
    rig,
    work,
    wrapDir,
    engineLog: path.join(work, 'engine.log'),
    dockerConfig: await makeDockerConfig(rigLogins(rig))
  }
  await writeWrappers(partial)
  console.error('bundling the CLI from these sources into a temporary dist ...')
  const dist = path.join(work, 'dist')
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'bundle.mjs'), dist], {
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const b: Bench = { ...partial, cli: path.join(dist, 'cli.js') }
  // What Node itself takes to start and load the CLI: part of our overhead, not of our code.
  const startup = async (args: string[]): Promise<number> => {
    const xs: number[] = []
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now()
      check(await spawnExec(process.execPath, args), 'node')
      xs.push(Date.now() - t0)
    }
    return median(xs)
  }
  const nodeStart = await startup(['-e', '0'])
  const cliStart = await startup([b.cli, '--version'])

  const samples: Record<Case, Record<Tool, Sample[]>> = {
    cold: { ours: [], bake: [], rack: [] },
    warm: { ours: [], bake: [], rack: [] },
    nochange: { ours: [], bake: [], rack: [] }
  }
  try {
    for (let t = 0; t < TRIALS; t++) {
      const app = path.join(work, `app-${t}`)
      await writeApp(app, randomBytes(4).toString('hex'))
      const repos = Object.fromEntries(TOOLS.map(tool => [tool, uniqueRepo(`bench-${tool}`, rig)]))
      // Alternating: each trial starts with another tool.
      const order = TOOLS.map((_, i) => TOOLS[(i + t) % TOOLS.length]!)
      for (const tool of order) {
        await prune()
        samples.cold[tool].push(await run(tool, b, app, repos[tool]!))
        console.error(`trial ${t + 1} cold ${tool}: ${sec(samples.cold[tool].at(-1)!.ms)}`)
      }
      for (let i = 0; i < BUILDS; i++) {
        await writeFile(path.join(app, `svc${i}`, 'hello.txt'), `hello ${i} again\n`)
      }
      commit(app, 'change')
      for (const tool of order) {
        await prune()
        samples.warm[tool].push(await run(tool, b, app, repos[tool]!))
        console.error(`trial ${t + 1} warm ${tool}: ${sec(samples.warm[tool].at(-1)!.ms)}`)
      }
      await prune()
      samples.nochange.ours.push(await run('ours', b, app, repos.ours!))
      console.error(`trial ${t + 1} no change ours: ${sec(samples.nochange.ours.at(-1)!.ms)}`)
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }

  const med = (c: Case, tool: Tool, f: (s: Sample) => number = s => s.ms): number =>
    median(samples[c][tool].map(f))
  const rows = (['cold', 'warm'] as const).map(c => {
    const [o, bk, rk] = [med(c, 'ours'), med(c, 'bake'), med(c, 'rack')]
    const before = Math.round(med(c, 'ours', s => s.beforeMs!))
    return `| ${c} | ${sec(o)} | ${sec(bk)} | ${sec(rk)} | **${x(o / bk)}** | ${x(o / CRITICAL_MS)} | ${x(rk / bk)} | ${Math.round(med(c, 'ours', s => s.overheadMs!))} ms (${before} ms before the first build) |`
  })
  const nc = med('nochange', 'ours')
  const bakeWarm = med('warm', 'bake')
  rows.push(
    `| no change | ${sec(nc)} (reused ${median(samples.nochange.ours.map(s => s.reused!))}/6) | ${sec(bakeWarm)} (its warm build) | ${sec(med('warm', 'rack'))} (its warm build) | **${x(nc / bakeWarm)}** | ${x(nc / CRITICAL_MS)} | | ${Math.round(med('nochange', 'ours', s => s.overheadMs!))} ms |`
  )
  console.log(
    [
      `${TRIALS} trials each, medians; engine ${ENGINE}; critical path ${sec(CRITICAL_MS)}`,
      '',
      '| case | ours (CLI, defaults) | buildx bake | rack one-by-one | ours / bake | ours / critical path | rack / bake | our overhead |',
      '|---|---|---|---|---|---|---|---|',
      ...rows
    ].join('\n')
  )
  console.log(
    `\nNode alone starts in ${nodeStart} ms and starts with the CLI loaded (\`--version\`) in ${cliStart} ms: part of "our overhead".`
  )
  const overlap = samples.cold.ours.map(s => s.copyOverlap)
  console.log(
    `\nimage-service copy ran while the builds ran (cold trials): ${overlap.map(String).join(', ')}`
  )
  const targets: Array<[string, boolean]> = [
    ['cold <= 1.0x bake', med('cold', 'ours') <= med('cold', 'bake')],
    ['cold <= 1.1x critical path', med('cold', 'ours') <= 1.1 * CRITICAL_MS],
    ['warm <= 1.0x bake', med('warm', 'ours') <= med('warm', 'bake')],
    ['overhead < 100 ms (cold)', med('cold', 'ours', s => s.overheadMs!) < 100],
    ['no change <= 0.3x bake warm', nc <= 0.3 * bakeWarm],
    ['no change < 2 s', nc < 2000]
  ]
  for (const [name, ok] of targets) console.log(`${ok ? 'OK    ' : 'MISSED'} ${name}`)
  if (targets.some(([, ok]) => !ok)) process.exitCode = 1
}
