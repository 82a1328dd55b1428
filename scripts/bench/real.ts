// `npm run bench:real`: builds at real sizes over a shaped link. The app (real-app.ts): ten
// services over four multi-stage builds, a base of about 100 MB of random data in the Docker Hub
// stand-in, layers of 20 to 80 MB of random data. Both registries (push and hub) sit behind one
// shaping proxy on loopback (shaping-proxy.ts: 30 ms round trip, 200 Mbit/s each way), and the
// builds run on the benchmark's own buildkitd (bench-daemon.ts), whose registries are the proxy's
// ports: every byte a build moves to or from a registry crosses the link. Ours is the CLI as users
// run it (`node dist/cli.js build`, bundled from the sources, on its defaults); bake is
// `docker buildx bake` (bake.ts) on a remote builder on the same daemon. Each case starts with an
// empty builder (`buildctl prune --all`), as on a fresh CI runner; tools alternate who goes first.
//   cold:        content never built, nothing in the registry
//   cached:      each build's one source file changed, the registry cache of the previous build
//   one changed: one build's source file changed
//   no change:   the same content again
//   no change, signed: ours with a signing key (`sign: key`): reuse verifies each image's
//                signature first (after one unmeasured signed run); bake as in no change
// Then QEMU's cost (qemu-cost.ts): fixed CPU-bound RUN steps for linux/arm64 under emulation and
// for linux/amd64 natively, on the same daemon.
// BENCH_SCALE (default 1) scales every size (0.1 to develop), BENCH_TRIALS (default 2), BENCH_RTT_MS
// (30) and BENCH_MBIT (200) change the link.
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawnExec } from '../../src/core/exec.js'
import { buildId } from '../../__tests__/helpers/engine-plan.js'
import { pipelineEnv } from '../../__tests__/helpers/pipeline.js'
import { buildDir } from '../../__tests__/helpers/dockerfile-build.js'
import {
  loadRig,
  makeDockerConfig,
  REPO_ROOT,
  rigCliFlags,
  rigLogins,
  type Rig
} from '../../__tests__/helpers/rig.js'
import { bake } from './bake.js'
import { startDaemon, type BenchDaemon } from './bench-daemon.js'
import { check, cliBuildArgs, median, ratio, sec } from './common.js'
import {
  BUILDS,
  SERVICES,
  baseDockerfile,
  baseTag,
  changeSource,
  writeRealApp
} from './real-app.js'
import { ARCHES, qemuCost, workloads, type Arch } from './qemu-cost.js'
import { startShapingProxy, type LinkShape, type ShapingProxy } from './shaping-proxy.js'

const SCALE = Number(process.env.BENCH_SCALE ?? 1)
const TRIALS = Math.max(2, Number(process.env.BENCH_TRIALS ?? 2))
const LINK: LinkShape = {
  rttMs: Number(process.env.BENCH_RTT_MS ?? 30),
  mbit: Number(process.env.BENCH_MBIT ?? 200)
}
/** The QEMU steps are short and this machine is shared: more trials. */
const QEMU_TRIALS = Math.max(5, TRIALS)
const TOOLS = ['ours', 'bake'] as const
type Tool = (typeof TOOLS)[number]
const CASES = ['cold', 'cached', 'one changed', 'no change', 'no change, signed'] as const
type Case = (typeof CASES)[number]

interface Sample {
  ms: number
  /** MB that crossed the link, up and down. */
  upMb: number
  downMb: number
  /** Ours only: services reused. */
  reused?: number
}

interface Setup {
  rig: Rig
  /** The rig as the tools see it: its registries behind the proxy, the bench's own daemon. */
  linked: Rig
  work: string
  proxy: ShapingProxy
  daemon: BenchDaemon
  dockerConfig: string
  cli: string
}

/** The environment of a tool: no CI, nothing of the rig's daemon, the proxied logins. */
function toolEnv(s: Setup): NodeJS.ProcessEnv {
  return pipelineEnv(s.linked, { DOCKER_CONFIG: s.dockerConfig })
}

/** A signing key (ECDSA P-256, PKCS#8 PEM) for the signed case: reuse then verifies signatures. */
const SIGNING_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString()

async function ours(
  s: Setup,
  app: string,
  repo: string,
  signed = false
): Promise<Omit<Sample, 'upMb' | 'downMb'>> {
  const env: NodeJS.ProcessEnv = {
    ...toolEnv(s),
    ...(signed ? { CONVOX_BUILD_SIGN: 'key', CONVOX_BUILD_SIGNING_KEY: SIGNING_KEY } : {}),
    XDG_CACHE_HOME: await mkdtemp(path.join(s.work, 'xdg-')),
    CONVOX_BUILD_REGISTRY_PASSWORD: s.rig.registryPassword,
    CONVOX_BUILD_DOCKER_HUB_PASSWORD: s.rig.hubPassword
  }
  delete env.DOCKER_CONFIG
  const args = cliBuildArgs(s.cli, repo, s.linked.registryUsername, rigCliFlags(s.linked))
  const t0 = Date.now()
  const r = await spawnExec(process.execPath, args, { cwd: app, env })
  const ms = Date.now() - t0
  check(r, 'convox-build')
  const result = JSON.parse(r.stdout) as { services: { name: string; reusedFrom?: string }[] }
  return { ms, reused: result.services.filter(x => x.reusedFrom).length }
}

async function measure(
  s: Setup,
  tool: Tool,
  app: string,
  repo: string,
  signed = false
): Promise<Sample> {
  await s.daemon.prune()
  const before = s.proxy.moved()
  const sample =
    tool === 'ours'
      ? await ours(s, app, repo, signed)
      : {
          ms: await bake({
            app,
            repo,
            id: buildId(),
            targets: SERVICES,
            builder: s.daemon.builder,
            env: toolEnv(s)
          })
        }
  const after = s.proxy.moved()
  const MB = 1024 * 1024
  return { ...sample, upMb: (after.up - before.up) / MB, downMb: (after.down - before.down) / MB }
}

/** Builds the base image once into the hub (straight, not over the link), unless it is there. */
async function ensureBase(s: Setup): Promise<void> {
  const ref = `${s.rig.hubRegistry}/library/${baseTag(SCALE)}`
  const inspect = await spawnExec('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    '--authfile',
    path.join(s.dockerConfig, 'config.json'),
    `docker://${ref}`
  ])
  if (inspect.exitCode === 0) return
  console.error(`building the base image ${ref} ...`)
  const dir = path.join(s.work, 'base')
  await mkdir(dir)
  await writeFile(path.join(dir, 'Dockerfile'), baseDockerfile(SCALE))
  const r = await buildDir(dir, `type=image,name=${ref},push=true`, {
    rig: s.linked,
    dockerConfig: s.dockerConfig
  })
  check(r, 'building the base image')
}

async function setUp(rig: Rig, work: string, cleanups: Cleanups): Promise<Setup> {
  const proxy = await startShapingProxy([rig.registry, rig.hubRegistry], LINK)
  cleanups.add(() => proxy.close())
  const [push, hub] = proxy.hosts as [string, string]
  const daemon = await startDaemon({
    dir: await mkdtemp(path.join(tmpdir(), 'bench-bk-')),
    rigBin: rig.rigBin,
    hubMirror: hub,
    httpRegistries: [push, hub, rig.hubRegistry]
  })
  cleanups.add(() => daemon.stop())
  // The rig's logins, and the hub's also straight (the base image is pushed there once).
  const { [rig.registry]: pushLogin, [rig.hubRegistry]: hubLogin } = rigLogins(rig)
  const dockerConfig = await makeDockerConfig({
    [push]: pushLogin!,
    [hub]: hubLogin!,
    [rig.hubRegistry]: hubLogin!
  })
  cleanups.add(() => rm(dockerConfig, { recursive: true, force: true }))
  console.error('bundling the CLI from these sources into a temporary dist ...')
  const dist = path.join(work, 'dist')
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'bundle.mjs'), dist], {
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const linked: Rig = {
    ...rig,
    registry: push,
    hubRegistry: hub,
    buildkitHost: daemon.address,
    buildxBuilder: daemon.builder,
    buildxConfig: daemon.buildxConfig
  }
  const cli = path.join(dist, 'cli.js')
  return { rig, linked, work, proxy, daemon, dockerConfig, cli }
}

/** What the benchmark started, stopped in reverse order once, also on an interrupt or failure. */
class Cleanups {
  private readonly steps: Array<() => Promise<void>> = []
  private done: Promise<void> | undefined

  /** Registers a step; one registered after the clean-up began runs after it. */
  add(step: () => Promise<void>): void {
    if (this.done) void this.done.then(step)
    else this.steps.push(step)
  }

  run(): Promise<void> {
    return (this.done ??= (async () => {
      for (const f of this.steps.reverse()) await f().catch(e => console.error(String(e)))
    })())
  }
}

type Samples = Record<Case, Record<Tool, Sample[]>>

async function trials(s: Setup): Promise<Samples> {
  const samples = Object.fromEntries(
    CASES.map(c => [c, { ours: [], bake: [] }])
  ) as unknown as Samples
  for (let t = 0; t < TRIALS; t++) {
    const app = path.join(s.work, `app-${t}`)
    await writeRealApp(app, randomBytes(4).toString('hex'), SCALE)
    const repos = Object.fromEntries(
      TOOLS.map(tool => [
        tool,
        `${s.linked.registry}/bench-real-${tool}-${randomBytes(4).toString('hex')}`
      ])
    ) as Record<Tool, string>
    const order = t % 2 ? (['bake', 'ours'] as const) : (['ours', 'bake'] as const)
    for (const c of CASES) {
      if (c === 'cached') await changeSource(app, BUILDS, `change ${t}`)
      if (c === 'one changed') await changeSource(app, [BUILDS[1]!], `one change ${t}`)
      const signed = c === 'no change, signed'
      // Signed: the unsigned images are not reused; one signed run (not measured) signs them,
      // then a run with nothing changed reuses them, each signature verified first.
      if (signed) await measure(s, 'ours', app, repos.ours, true)
      for (const tool of order) {
        const x = await measure(s, tool, app, repos[tool], signed && tool === 'ours')
        samples[c][tool].push(x)
        console.error(
          `trial ${t + 1} ${c} ${tool}: ${sec(x.ms)}, ${x.upMb.toFixed(0)} MB up, ${x.downMb.toFixed(0)} MB down${x.reused !== undefined ? `, reused ${x.reused}` : ''}`
        )
      }
    }
  }
  return samples
}

function report(samples: Samples, q: Record<Arch, number[][]>): string {
  const med = (c: Case, tool: Tool, f: (x: Sample) => number = x => x.ms) =>
    median(samples[c][tool].map(f))
  const mb = (c: Case, tool: Tool) =>
    `${Math.round(med(c, tool, x => x.upMb))} / ${Math.round(med(c, tool, x => x.downMb))}`
  const rows = CASES.map(c => {
    const [o, b] = [med(c, 'ours'), med(c, 'bake')]
    const reused = med(c, 'ours', x => x.reused ?? 0)
    return `| ${c} | ${sec(o)} | ${sec(b)} | **${ratio(o / b)}** | ${reused}/${SERVICES.length} | ${mb(c, 'ours')} | ${mb(c, 'bake')} |`
  })
  const qemuRows = workloads(SCALE).map((w, n) => {
    const [amd, arm] = ARCHES.map(a => median(q[a].map(t => t[n]!)))
    return `| ${w.name} | ${amd!.toFixed(2)} s | ${arm!.toFixed(2)} s | **${ratio(arm! / amd!)}** |`
  })
  return [
    `${TRIALS} trials per case, medians; scale ${SCALE}; link ${LINK.rttMs} ms round trip, ${LINK.mbit} Mbit/s each way`,
    '',
    '| case | ours (CLI, defaults) | buildx bake | ours / bake | ours reused | MB up / down, ours | MB up / down, bake |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `QEMU (${q.amd64.length} trials each, medians; each step timed inside it):`,
    '',
    '| RUN step | linux/amd64 (native) | linux/arm64 (QEMU) | arm64 / amd64 |',
    '|---|---|---|---|',
    ...qemuRows
  ].join('\n')
}

export async function main(): Promise<void> {
  const rig = loadRig()
  const work = await mkdtemp(path.join(tmpdir(), 'bench-real-'))
  const cleanups = new Cleanups()
  cleanups.add(() => rm(work, { recursive: true, force: true }))
  const cleanUp = () => cleanups.run()
  const onSignal = () => void cleanUp().finally(() => process.exit(130))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const s = await setUp(rig, work, cleanups)
    await ensureBase(s)
    const samples = await trials(s)
    const q = await qemuCost({
      rig: s.linked,
      dockerConfig: s.dockerConfig,
      dir: path.join(work, 'qemu'),
      scale: SCALE,
      trials: QEMU_TRIALS,
      log: line => console.error(line)
    })
    console.log(report(samples, q))
  } finally {
    await cleanUp()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

await main()
