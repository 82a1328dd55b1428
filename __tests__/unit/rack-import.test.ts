// A truncated or corrupt tarball on `import`: one line naming the file, nothing sent to the rack,
// no temp dir left, through the CLI as a user runs it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGzip, gunzipSync, gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { runCli } from '../../src/cli/run.js'
import { spawnExec } from '../../src/core/exec.js'
import { Cancelled } from '../../src/core/interrupt.js'
import { silentLogger } from '../../src/core/log.js'
import { RackClient } from '../../src/core/rack/client.js'
import { runImport } from '../../src/core/rack/build-import.js'
import { startRackFaultProxy } from '../helpers/fault-proxy.js'
import { node24Dir } from '../helpers/act.js'
import { REPO_ROOT } from '../helpers/rig.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'

let server: RackServer
let dir: string
let whole: Buffer

/** A tarball as `convox builds export` writes it: build.json and one archive. */
async function exportTarball(file: string): Promise<Buffer> {
  const pack = tar.pack()
  const json = Buffer.from(JSON.stringify({ id: 'BSOURCEAAAA', release: 'RSOURCEAAAA' }))
  pack.entry({ name: 'build.json', size: json.length }, json)
  // incompressible, so that a cut lands inside the archive's entry
  const archive = randomBytes(200_000)
  pack.entry({ name: 'web.BSOURCEAAAA.tar', size: archive.length }, archive)
  pack.finalize()
  await pipeline(pack, createGzip(), createWriteStream(file))
  return readFile(file)
}

beforeAll(async () => {
  server = await startRackServer({ apps: ['web'], password: 'pw-import-1' })
  dir = await mkdtemp(path.join(tmpdir(), 'rack-import-unit-'))
  whole = await exportTarball(path.join(dir, 'whole.tgz'))
})
afterAll(async () => {
  await server?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function cli(file: string): Promise<{ code: number; stderr: string }> {
  let stderr = ''
  const code = await runCli(['build', '--app', 'web', '--import', file], {
    stdout: () => undefined,
    stderr: t => (stderr += t),
    env: { PATH: process.env.PATH ?? '', RACK_URL: server.rackUrl },
    cwd: dir,
    signals: false
  })
  return { code, stderr }
}

describe('import of a damaged tarball', () => {
  const cases: { name: string; bytes: () => Buffer; why: RegExp }[] = [
    {
      name: 'cut in the gzip stream',
      bytes: () => whole.subarray(0, whole.length / 2),
      why: /unexpected end of file/
    },
    {
      name: 'cut in the tar stream (gzip complete)',
      bytes: () => gzipSync(gunzipSync(whole).subarray(0, 100_000)),
      why: /Unexpected end of data/
    },
    { name: 'not gzip', bytes: () => Buffer.from('hello\n'), why: /incorrect header check/ },
    {
      name: 'gzip of garbage',
      bytes: () => gzipSync(Buffer.alloc(2000, 1)),
      why: /Invalid tar header/
    }
  ]
  it.each(cases)('$name: one line naming the file, nothing sent, no temp dir', async c => {
    const file = path.join(dir, `${c.name.replace(/\W+/g, '-')}.tgz`)
    await writeFile(file, c.bytes())
    const before = (await readdir(tmpdir())).filter(f => f.startsWith('convox-build-'))
    server.requests.length = 0
    const { code, stderr } = await cli(file)
    expect(code).toBe(1)
    const lines = stderr
      .trimEnd()
      .split('\n')
      .filter(l => !/^==> /.test(l))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      new RegExp(
        `^--import: ${file.replace(/[.]/g, '\\.')} is not a complete convox builds export tarball \\(`
      )
    )
    expect(lines[0]).toMatch(c.why)
    expect(server.requests).toEqual([])
    expect(server.buildsOf('web')).toEqual([])
    const after = (await readdir(tmpdir())).filter(f => f.startsWith('convox-build-'))
    expect(after.filter(f => !before.includes(f))).toEqual([])
  })
})

describe('import of a damaged tarball, as a process', () => {
  it('prints one line, exits 1, reports no internal error, sends nothing', async () => {
    const file = path.join(dir, 'cut-process.tgz')
    await writeFile(file, whole.subarray(0, whole.length / 2))
    server.requests.length = 0
    // the CLI from its sources under Node 24 (the loader the benchmarks use)
    const r = await spawnExec(
      path.join(node24Dir(), 'node'),
      [
        '--import',
        path.join(REPO_ROOT, 'scripts', 'bench', 'ts-resolve.ts'),
        path.join(REPO_ROOT, 'src', 'cli', 'main.ts'),
        'build',
        '--app',
        'web',
        '--import',
        file
      ],
      { env: { PATH: process.env.PATH ?? '', RACK_URL: server.rackUrl }, cwd: dir }
    )
    expect(r.exitCode).toBe(1)
    expect(
      r.stderr
        .trimEnd()
        .split('\n')
        .filter(l => !/^==> /.test(l))
    ).toEqual([
      `--import: ${file} is not a complete convox builds export tarball (unexpected end of file)`
    ])
    expect(server.requests).toEqual([])
  })
})

describe('an import cancelled during the upload', () => {
  it("stops at once with the run's reason, nothing made", async () => {
    const proxy = await startRackFaultProxy(server.host)
    try {
      proxy.fault({ method: 'POST', path: '/apps/web/builds/import', action: { kind: 'hang' } })
      const controller = new AbortController()
      const rack = new RackClient({
        rackUrl: proxy.rackUrl(server.password),
        signal: controller.signal
      })
      const pending = runImport(rack, {
        app: 'web',
        tarball: path.join(dir, 'whole.tgz'),
        logger: silentLogger
      }).catch((x: unknown) => x)
      setTimeout(() => controller.abort(new Cancelled('SIGINT')), 300)
      const started = Date.now()
      expect(await pending).toBeInstanceOf(Cancelled)
      expect(Date.now() - started).toBeLessThan(2000)
      expect(server.buildsOf('web')).toEqual([])
      expect(proxy.requests.filter(r => r.url === '/apps/web/builds/import')).toHaveLength(1)
    } finally {
      await proxy.close()
    }
  })
})
