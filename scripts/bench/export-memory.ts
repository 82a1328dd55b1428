// Export benchmark: peak memory and time of our export of a ~1 GiB image, against the rack's way
// (`skopeo copy docker://... oci-archive:<file>` then a gzip'd tar).
// Run: node --import ./scripts/bench/ts-resolve.ts scripts/bench/export-memory.ts  (rig up)
// BENCH_EXPORT_MIB sets the image size (default 1024, in 8 layers).
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { RegistryClient } from '../../src/core/registry/client.js'
import { formatReference, parseReference } from '../../src/core/registry/reference.js'
import { loadRig } from '../../__tests__/helpers/rig.js'
import { pushLargeImage } from './export-image.js'

const LIMIT_MB = 200
const here = path.dirname(fileURLToPath(import.meta.url))
const rig = loadRig()
const mib = Number(process.env.BENCH_EXPORT_MIB ?? '1024')
const layers = 8
const buildId = 'BBENCHEXPRT'
const ref = parseReference(`${rig.registry}/bench-export:big.${buildId}`)
const client = new RegistryClient({
  credentials: host =>
    host === rig.registry
      ? { username: rig.registryUsername, password: rig.registryPassword }
      : undefined
})

/** Runs a command under /usr/bin/time -v; returns wall ms and peak RSS (KiB). */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const started = performance.now()
  const r = spawnSync('/usr/bin/time', ['-v', command, ...args], { env, encoding: 'utf8' })
  const ms = performance.now() - started
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr}`)
  if (process.env.BENCH_PHASES) console.log(r.stderr.split('\n')[0])
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)
  return { ms, maxRssKiB: Number(rss?.[1] ?? 0), stdout: r.stdout }
}

/**
 * The child runs plain JavaScript, as the bundled action does: the TypeScript loader alone would
 * add ~150 MB of compiler to its RSS. Transpiled under node_modules/.cache so that packages
 * (tar-stream) resolve.
 */
async function transpile(): Promise<string> {
  const root = path.resolve(here, '../..')
  const cache = path.join(root, 'node_modules', '.cache')
  await mkdir(cache, { recursive: true })
  const out = await mkdtemp(path.join(cache, 'bench-export-js-'))
  const files = [
    'scripts/bench/export-child.ts',
    ...['errors', 'log'].map(f => `src/core/${f}.ts`),
    ...(await readdir(path.join(root, 'src/core/registry'))).map(f => `src/core/registry/${f}`),
    ...(await readdir(path.join(root, 'src/core/export'))).map(f => `src/core/export/${f}`)
  ].filter(f => f.endsWith('.ts'))
  for (const file of files) {
    const { outputText } = ts.transpileModule(await readFile(path.join(root, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023 }
    })
    const target = path.join(out, file.replace(/\.ts$/, '.js'))
    await mkdir(path.dirname(target), { recursive: true })
    await writeFile(target, outputText)
  }
  await writeFile(path.join(out, 'package.json'), '{"type":"module"}')
  return out
}

const mb = (kib: number): string => (kib / 1024).toFixed(0)
const s = (ms: number): string => (ms / 1000).toFixed(1)

console.log(`pushing a ${mib} MiB image of random layers to ${formatReference(ref)} ...`)
const layerSize = Math.floor((mib * 1024 * 1024) / layers)
const pushStarted = performance.now()
const digest = await pushLargeImage(client, ref, layers, layerSize)
console.log(`  ${digest} in ${s(performance.now() - pushStarted)} s`)

const work = await mkdtemp(path.join(tmpdir(), 'bench-export-'))
const js = await transpile()
try {
  // Ours, in a child process so its peak RSS is the export's alone.
  const ours = timed(
    process.execPath,
    [
      path.join(js, 'scripts/bench/export-child.js'),
      formatReference(ref),
      path.join(work, 'ours.tgz'),
      buildId
    ],
    {
      ...process.env,
      BENCH_USERNAME: rig.registryUsername,
      BENCH_PASSWORD: rig.registryPassword,
      BENCH_TMP: work
    }
  )
  const child = JSON.parse(ours.stdout.trim().split('\n').pop() ?? '{}') as {
    ms: number
    maxRssKiB: number
    baselineKiB: number
  }
  const oursSize = (await stat(path.join(work, 'ours.tgz'))).size
  await rm(path.join(work, 'ours.tgz'))

  // The rack's way.
  const rackDir = path.join(work, 'rack')
  await mkdir(rackDir)
  const archive = path.join(rackDir, `big.${buildId}.tar`)
  const skopeo = timed('skopeo', [
    'copy',
    '--src-tls-verify=false',
    '--src-creds',
    `${rig.registryUsername}:${rig.registryPassword}`,
    `docker://${formatReference(ref)}`,
    `oci-archive:${archive}`
  ])
  await writeFile(path.join(rackDir, 'build.json'), '{}')
  const tarred = timed('tar', [
    '-czf',
    path.join(work, 'rack.tgz'),
    '-C',
    rackDir,
    'build.json',
    path.basename(archive)
  ])

  const rows = [
    ['', 'wall time', 'peak RSS'],
    [
      'ours: export (stream registry → archive → tgz)',
      `${s(child.ms)} s`,
      `${mb(child.maxRssKiB)} MB`
    ],
    ['  (the same process before the export)', '', `${mb(child.baselineKiB)} MB`],
    ['rack: skopeo copy docker:// oci-archive:', `${s(skopeo.ms)} s`, `${mb(skopeo.maxRssKiB)} MB`],
    ['rack: tar -czf (gzip -6)', `${s(tarred.ms)} s`, `${mb(tarred.maxRssKiB)} MB`],
    ['rack: total', `${s(skopeo.ms + tarred.ms)} s`, '']
  ]
  console.log(
    `\nexport of a ${mib} MiB image (${layers} incompressible layers), tarball ${(oursSize / 2 ** 20).toFixed(0)} MiB:`
  )
  for (const [a, b, c] of rows)
    console.log(`${(a ?? '').padEnd(52)} ${(b ?? '').padStart(10)} ${(c ?? '').padStart(10)}`)
  console.log(`time ours / rack: ${(child.ms / (skopeo.ms + tarred.ms)).toFixed(2)}`)
  const peakMb = child.maxRssKiB / 1024
  console.log(
    `peak RSS ${peakMb.toFixed(0)} MB ${peakMb < LIMIT_MB ? '<' : '>='} ${LIMIT_MB} MB: ${peakMb < LIMIT_MB ? 'OK' : 'FAIL'}`
  )
  if (peakMb >= LIMIT_MB) process.exitCode = 1
} finally {
  await rm(work, { recursive: true, force: true })
  await rm(js, { recursive: true, force: true })
}
