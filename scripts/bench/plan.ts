// `npm run bench:plan`: `convox-build plan` (the CLI in this process, from the sources) on
// generated manifests of N services, to show planning grows linearly with the services: image
// services, build services sharing one Dockerfile, and image services each naming a `${VAR}`.
// Prints wall and CPU time per size and the time per service, which stays flat when planning is
// linear. BENCH_PLAN_SIZES changes the sizes (default 2500,5000,10000,20000).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/run.js'

const SIZES = (process.env.BENCH_PLAN_SIZES ?? '2500,5000,10000,20000').split(',').map(Number)
const SHAPES = {
  image: (i: number) => `  s${i}:\n    image: busybox:1.${i}\n    port: 3000\n`,
  build: (i: number) => `  s${i}:\n    build: .\n    environment:\n      - A${i}=x\n`,
  // A `${VAR}` per service: positions map back through every replacement.
  vars: (i: number) => `  s${i}:\n    image: \${IMAGE}:1.${i}\n`
}

async function planOnce(dir: string): Promise<{ wallMs: number; cpuMs: number }> {
  let out = ''
  let err = ''
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const code = await runCli(['plan', '--app', 'bench'], {
    stdout: t => void (out += t),
    stderr: t => void (err += t),
    env: {
      PATH: process.env.PATH,
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
      IMAGE: 'busybox'
    },
    cwd: dir,
    signals: false
  })
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  if (code !== 0 || out.length === 0) throw new Error(`plan failed (${code}): ${err.slice(-2000)}`)
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'bench-plan-'))
  try {
    await writeFile(path.join(work, 'Dockerfile'), 'FROM busybox\nRUN true\n')
    // A first run loads what the CLI loads lazily: not part of any size's figure.
    await writeFile(path.join(work, 'convox.yml'), 'services:\n  web:\n    build: .\n')
    await planOnce(work)
    console.log('shape  services   wall ms    cpu ms   cpu µs/service')
    for (const [shape, service] of Object.entries(SHAPES)) {
      for (const n of SIZES) {
        let text = 'services:\n'
        for (let i = 0; i < n; i++) text += service(i)
        await writeFile(path.join(work, 'convox.yml'), text)
        const { wallMs, cpuMs } = await planOnce(work)
        const per = (cpuMs * 1000) / n
        console.log(
          `${shape.padEnd(6)} ${String(n).padStart(8)} ${wallMs.toFixed(0).padStart(9)} ${cpuMs.toFixed(0).padStart(9)} ${per.toFixed(0).padStart(16)}`
        )
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

await main()
