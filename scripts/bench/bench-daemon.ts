// The real-size benchmark's own buildkitd (the rig's pinned binary, its own state, socket and
// config under a temporary directory) and a buildx remote builder on it: its registries are the
// shaping proxy's ports, which it must treat as plain HTTP, and docker.io must go to the shaped
// Docker Hub stand-in. The rig's own buildkitd, which other tests use, is left alone.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawnExec } from '../../src/core/exec.js'
import { check } from './common.js'

export interface BenchDaemon {
  /** unix:// address of the daemon. */
  address: string
  /** The buildx builder on it, kept in buildxConfig. */
  builder: string
  buildxConfig: string
  /** Empties the builder: what a fresh CI runner starts with. */
  prune(): Promise<void>
  stop(): Promise<void>
}

export interface DaemonOptions {
  dir: string
  rigBin: string
  /** host:port of the Docker Hub stand-in that docker.io goes to. */
  hubMirror: string
  /** Registries reached over plain HTTP. */
  httpRegistries: string[]
}

export function daemonConfig(o: DaemonOptions & { runc: string }): string {
  return [
    `root = "${path.join(o.dir, 'root')}"`,
    '[grpc]',
    `  address = ["unix://${path.join(o.dir, 'buildkitd.sock')}"]`,
    '[worker.oci]',
    '  enabled = true',
    `  binary = "${o.runc}"`,
    '  gc = true',
    '  gckeepstorage = "20GB"',
    '[worker.containerd]',
    '  enabled = false',
    '[registry."docker.io"]',
    `  mirrors = ["${o.hubMirror}"]`,
    ...o.httpRegistries.flatMap(r => [`[registry."${r}"]`, '  http = true', '  insecure = true']),
    ''
  ].join('\n')
}

export async function startDaemon(o: DaemonOptions): Promise<BenchDaemon> {
  await mkdir(o.dir, { recursive: true })
  const runc = execFileSync('sh', ['-c', 'command -v runc']).toString().trim()
  const toml = path.join(o.dir, 'buildkitd.toml')
  await writeFile(toml, daemonConfig({ ...o, runc }))
  const address = `unix://${path.join(o.dir, 'buildkitd.sock')}`
  const log = path.join(o.dir, 'buildkitd.log')
  const fd = openSync(log, 'a')
  const child = spawn(
    path.join(o.rigBin, 'buildkitd'),
    ['--config', toml, '--oci-worker-net=host'],
    { stdio: ['ignore', fd, fd] }
  )
  closeSync(fd)
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const buildctl = (args: string[]) =>
    spawnExec(path.join(o.rigBin, 'buildctl'), ['--addr', address, ...args])
  const buildxConfig = path.join(o.dir, 'buildx')
  const builder = 'bench-real'
  const daemon: BenchDaemon = {
    address,
    builder,
    buildxConfig,
    async prune() {
      check(await buildctl(['prune', '--all']), 'buildctl prune')
    },
    async stop() {
      await stopChild(child, exited)
      await rm(o.dir, { recursive: true, force: true, maxRetries: 3 })
    }
  }
  try {
    await waitFor(async () => (await buildctl(['debug', 'workers'])).exitCode === 0, 60)
    const env = { ...process.env, BUILDX_CONFIG: buildxConfig }
    const buildx = (args: string[]) => spawnExec('docker', ['buildx', ...args], { env })
    check(
      await buildx(['create', '--name', builder, '--driver', 'remote', address]),
      'buildx create'
    )
    check(await buildx(['inspect', '--bootstrap', builder]), 'buildx inspect')
  } catch (e) {
    // Its log goes with its directory: keep the end of it in the error.
    const tail = (await readFile(log, 'utf8').catch(() => '')).slice(-1500)
    await daemon.stop()
    throw new Error(`${(e as Error).message}\nbuildkitd's log ends:\n${tail}`, { cause: e })
  }
  return daemon
}

async function waitFor(ok: () => Promise<boolean>, seconds: number): Promise<void> {
  for (let i = 0; i < seconds * 2; i++) {
    if (await ok()) return
    await sleep(500)
  }
  throw new Error("the bench's buildkitd did not answer")
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const done = await Promise.race([exited.then(() => true), sleep(20000).then(() => false)])
  if (!done) {
    child.kill('SIGKILL')
    await exited
  }
}
