// Ctrl-C, a CI timeout, a cancelled workflow: SIGINT or SIGTERM to the CLI (dist/cli.js, what
// users run) at each phase of a real build (build, push, export, rack). It exits 130 / 143 with
// one line; seconds later no process of the run is left, no credential file, no temp archive, no
// partial export, and a rack build it registered is failed with `cancelled` in its log.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { cp, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { EXAMPLES } from '../helpers/engine-plan.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'
import { CLI, loadRig, rigCliEnv, rigCliFlags } from '../helpers/rig.js'

const rig = loadRig()
let work: string
let proxy: FaultProxy
let rack: RackServer

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cancel-test-'))
  proxy = await startFaultProxy(rig.registry)
  rack = await startRackServer({
    apps: ['cancel'],
    registry: { host: rig.registry, username: rig.registryUsername, password: rig.registryPassword }
  })
})

afterAll(async () => {
  await proxy?.close()
  await rack?.close()
  if (work) await rm(work, { recursive: true, force: true })
})

interface Running {
  app: string
  tmp: string
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill: (signal: NodeJS.Signals) => void
  running: () => boolean
}

/** The example app, its web build changed by `dockerfileTail`, built by the CLI as a CI would. */
async function start(
  name: string,
  args: string[],
  dockerfileTail: string,
  env: NodeJS.ProcessEnv = {}
): Promise<Running> {
  const app = await mkdtemp(path.join(work, `${name}-app-`))
  await cp(EXAMPLES, app, { recursive: true })
  const dockerfile = path.join(app, 'Dockerfile')
  await writeFile(dockerfile, `${await readFile(dockerfile, 'utf8')}\n${dockerfileTail}\n`)
  // The run's own temp dir: whatever it leaves behind is there to find.
  const tmp = await mkdtemp(path.join(work, `${name}-tmp-`))
  const child = spawn(
    process.execPath,
    [
      CLI,
      'build',
      '--app',
      'cancel',
      ...rigCliFlags(rig),
      '--git-sha',
      '0123456789abcdef0123456789abcdef01234567',
      '--build-args',
      'VERSION=1',
      ...args
    ],
    {
      cwd: app,
      env: rigCliEnv(rig, {
        TMPDIR: tmp,
        CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword,
        ...env
      }),
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  let stderr = ''
  let done = false
  child.stderr.on('data', (b: Buffer) => void (stderr += b.toString()))
  child.stdout.resume()
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve =>
    child.on('exit', (code, signal) => {
      done = true
      resolve({ code, signal })
    })
  )
  return {
    app,
    tmp,
    stderr: () => stderr,
    exited,
    kill: s => child.kill(s),
    running: () => !done
  }
}

async function waitFor(
  r: Running,
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 120_000
) {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline || !r.running()) {
      r.kill('SIGKILL')
      throw new Error(`timed out waiting for ${what}; the CLI said:\n${r.stderr()}`)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** Processes (other than this test) whose command line or working directory names `marker`. */
async function processesOf(marker: string): Promise<string[]> {
  const found: string[] = []
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ')
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '')
      if (cmdline.includes(marker) || cwd.startsWith(marker)) found.push(`${pid} ${cmdline}`)
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/** Files left under a directory, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.join(e.parentPath, e.name))
  }
  return out
}

/** After the signal: the exit, the one line, and nothing of the run left 10 s later. */
async function expectCleanStop(r: Running, signal: NodeJS.Signals): Promise<void> {
  r.kill(signal)
  const { code } = await r.exited
  expect(code).toBe(signal === 'SIGINT' ? 130 : 143)
  const lines = r.stderr().trimEnd().split('\n')
  expect(lines.at(-1)).toBe(`error: cancelled by ${signal}`)
  expect(r.stderr()).not.toMatch(/^\s+at /m)
  await new Promise(resolve => setTimeout(resolve, 10_000))
  expect(await processesOf(r.app)).toEqual([])
  expect(await filesUnder(r.tmp)).toEqual([])
  expect(r.stderr()).not.toContain(rig.registryPassword)
}

describe('cancelling the CLI', () => {
  it('during a build (SIGINT): stops the build, exits 130, leaves nothing', async () => {
    const r = await start(
      'build',
      ['--registry', `${rig.registry}/cancel-build`, '--registry-username', rig.registryUsername],
      `RUN echo building-${Date.now()} && sleep 120`
    )
    await waitFor(r, 'the build to start', () => r.stderr().includes('building ./Dockerfile'))
    await waitFor(r, 'buildctl to run', async () => (await processesOf(r.app)).length > 0)
    await new Promise(resolve => setTimeout(resolve, 1500))
    await expectCleanStop(r, 'SIGINT')
  })

  it('during a push (SIGTERM): exits 143, leaves nothing', async () => {
    // The registry takes the push and then never answers its commits: the push hangs.
    let pushing = false
    proxy.setRule(req => {
      if (req.method === 'PUT' && /\/blobs\/uploads\//.test(req.url)) {
        pushing = true
        return { kind: 'hang' }
      }
      return undefined
    })
    try {
      const r = await start(
        'push',
        ['--registry', `${proxy.host}/cancel-push`, '--registry-username', rig.registryUsername],
        `RUN head -c 2000000 /dev/urandom > /push-${Date.now()}`
      )
      await waitFor(r, 'the push to start', () => pushing)
      await expectCleanStop(r, 'SIGTERM')
    } finally {
      proxy.setRule(() => undefined)
    }
  })

  it('during the export (SIGINT): no partial file, the previous export stays', async () => {
    let exporting = false
    const r = await start(
      'export',
      [
        '--registry',
        `${proxy.host}/cancel-export`,
        '--registry-username',
        rig.registryUsername,
        '--export',
        'out/build.tgz'
      ],
      `RUN head -c 2000000 /dev/urandom > /export-${Date.now()}`
    )
    const target = path.join(r.app, 'out', 'build.tgz')
    await rm(path.dirname(target), { recursive: true, force: true })
    await cp(path.join(EXAMPLES, 'convox.yml'), target)
    const before = await readFile(target, 'utf8')
    // Once the export reads the pushed layers, the registry stops answering.
    await waitFor(r, 'the export to start', () => r.stderr().includes('==> Export'))
    proxy.setRule(req => {
      if (req.method === 'GET' && /\/blobs\/sha256:/.test(req.url)) {
        exporting = true
        return { kind: 'hang' }
      }
      return undefined
    })
    try {
      await waitFor(r, 'the export to read a layer', () => exporting)
      await expectCleanStop(r, 'SIGINT')
      expect(await readFile(target, 'utf8')).toBe(before)
      expect(await readdir(path.dirname(target))).toEqual(['build.tgz'])
    } finally {
      proxy.setRule(() => undefined)
    }
  })

  it('with a rack (SIGTERM during the build): the rack build is failed, cancelled in its log', async () => {
    const r = await start('rack', [], `RUN echo rack-${Date.now()} && sleep 120`, {
      RACK_URL: rack.rackUrl,
      CONVOX_BUILD_REGISTRY_PASSWORD: ''
    })
    await waitFor(r, 'the build to start', () => r.stderr().includes('building ./Dockerfile'))
    await waitFor(r, 'buildctl to run', async () => (await processesOf(r.app)).length > 0)
    await expectCleanStop(r, 'SIGTERM')
    const builds = rack.buildsOf('cancel')
    expect(builds).toHaveLength(1)
    expect(builds[0]!.status).toBe('failed')
    expect(rack.releasesOf('cancel')).toEqual([])
    const logKey = builds[0]!.logs.replace(/^object:\/\//, '')
    expect(rack.objects.get(logKey)?.toString()).toContain('cancelled')
  })
})
