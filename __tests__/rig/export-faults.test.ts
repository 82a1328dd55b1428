// The export under faults: a layer stream cut short or reset by the registry, a disk that fills
// up, a target that cannot be written. Each is one error line; the target path keeps what it
// held before (or nothing), no partial file is left beside it, and nothing is left unhandled.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { UserError } from '../../src/core/errors.js'
import { buildRecord } from '../../src/core/export/record.js'
import { writeExport, type ExportSource } from '../../src/core/export/tarball.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'
import { checkTargetFile } from '../../src/core/target-file.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { buildctl, loadRig, makeDockerConfig, rigLogins, uniqueRepo } from '../helpers/rig.js'

const rig = loadRig()
const logins = rigLogins(rig)
const BUILD_ID = 'BFAULTYEXPO'
const record = buildRecord({ id: BUILD_ID, app: 'faulty', started: new Date() })

let dir: string
let proxy: FaultProxy
const repo = uniqueRepo('export-faults', rig)
const repoPath = repo.slice(rig.registry.length + 1)
/** Errors nothing awaited, seen while a test ran. */
const unhandled: unknown[] = []
const onUnhandled = (e: unknown): void => void unhandled.push(e)

/** The service's image through the proxy (its Basic auth passes through to the registry). */
function viaProxy(): ExportSource {
  const client = new RegistryClient({
    credentials: host => (host === proxy.host ? logins[rig.registry] : undefined),
    retries: 0
  })
  return { service: 'web', client, image: parseReference(`${proxy.host}/${repoPath}:web.B1`) }
}

function direct(): ExportSource {
  const client = new RegistryClient({ credentials: host => logins[host] })
  return { service: 'web', client, image: parseReference(`${repo}:web.B1`) }
}

/** Files beside the target other than the target itself (a partial export would be one). */
async function leftovers(target: string): Promise<string[]> {
  const base = target.split('/').pop()!
  return (await readdir(join(target, '..'))).filter(f => f !== base)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'export-faults-'))
  const context = join(dir, 'context')
  await mkdir(context)
  // A layer of 3 MB that does not compress: its stream takes many chunks.
  await writeFile(
    join(context, 'Dockerfile'),
    'FROM busybox\nRUN head -c 3000000 /dev/urandom > /random\n'
  )
  const dockerConfig = await makeDockerConfig(logins)
  const built = await buildctl(
    [
      'build',
      '--frontend=dockerfile.v0',
      `--local=context=${context}`,
      `--local=dockerfile=${context}`,
      `--output=type=image,name=${repo}:web.B1,push=true`
    ],
    { rig, dockerConfig }
  )
  await rm(dockerConfig, { recursive: true, force: true })
  if (built.exitCode !== 0) throw new Error(built.stderr)
  proxy = await startFaultProxy(rig.registry)
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtException', onUnhandled)
})

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  process.off('uncaughtException', onUnhandled)
  await proxy?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** Blob GETs of layers bigger than the config: the layer stream. */
const layerGet = (req: { method: string; url: string }): boolean =>
  req.method === 'GET' && /\/blobs\/sha256:/.test(req.url)

describe('export stream faults', () => {
  it.each([
    ['cut short', 'truncate' as const],
    ['reset', 'reset' as const]
  ])('a layer stream %s is one error naming the image; the old file stays', async (_, kind) => {
    let blobs = 0
    // The config blob is the first blob read; the layer comes after it.
    proxy.setRule(req => (layerGet(req) && ++blobs === 2 ? { kind, bytes: 200_000 } : undefined))
    const target = join(dir, `${kind}.tgz`)
    await writeFile(target, 'the previous export')
    const error = await writeExport(target, record, [viaProxy()], {
      tempDir: join(dir, 'tmp')
    }).then(
      () => undefined,
      (e: Error) => e
    )
    expect(blobs).toBeGreaterThanOrEqual(2)
    expect(error?.message).toContain(`${proxy.host}/${repoPath}:web.B1`)
    expect(error!.message.split('\n')).toHaveLength(1)
    expect(await readFile(target, 'utf8')).toBe('the previous export')
    expect(await leftovers(target)).toEqual(
      expect.not.arrayContaining([expect.stringMatching(/partial/)])
    )
    // Let any stray 'error' event or rejection surface before looking.
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(unhandled).toEqual([])
    proxy.setRule(() => undefined)
  })

  it('a disk that fills up under the export: one error, no partial file, the old file stays', async () => {
    const mount = join(dir, 'small-disk')
    await mkdir(mount)
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount])
    expect(mounted.status).toBe(0)
    try {
      const target = join(mount, 'build.tgz')
      await writeFile(target, 'the previous export')
      const error = await writeExport(target, record, [direct()], {
        tempDir: join(dir, 'tmp')
      }).then(
        () => undefined,
        (e: Error) => e
      )
      expect(error?.message).toMatch(/ENOSPC|no space/i)
      expect(await readFile(target, 'utf8')).toBe('the previous export')
      expect(await readdir(mount)).toEqual(['build.tgz'])
      await new Promise(resolve => setTimeout(resolve, 200))
      expect(unhandled).toEqual([])
    } finally {
      spawnSync('umount', [mount])
    }
  })
})

describe('export target, checked before anything is built', () => {
  const refusal = async (file: string): Promise<UserError> => {
    // A target on /proc once made a recursive mkdir spin forever: bound the wait.
    const outcome = await Promise.race([
      checkTargetFile(file, 'export').then(
        () => new Error('accepted'),
        (e: Error) => e
      ),
      new Promise<Error>(resolve => setTimeout(() => resolve(new Error('hung')), 10_000))
    ])
    expect(outcome).toBeInstanceOf(UserError)
    return outcome as UserError
  }

  it('refuses a directory, a path under a file, and the kernel filesystems', async () => {
    expect((await refusal(dir)).message).toBe(
      `input "export": cannot write ${dir}: it is a directory`
    )
    const file = join(dir, 'a-file')
    await writeFile(file, 'x')
    expect((await refusal(join(file, 'build.tgz'))).message).toContain('is a file, not a directory')
    expect((await refusal('/proc/convox-build/out/build.tgz')).message).toContain('proc')
    expect((await refusal('/sys/convox-build.tgz')).message).toContain('sysfs')
  })

  it('accepts a new file under directories that do not exist yet, creating nothing', async () => {
    const target = join(dir, 'new', 'deeper', 'build.tgz')
    await checkTargetFile(target, 'export')
    await expect(readdir(join(dir, 'new'))).rejects.toThrow(/ENOENT/)
  })
})
