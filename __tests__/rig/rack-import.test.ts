// The rack flows against the test rack and the rig's real registry: pushes through the rack's
// /v2/ proxy, and `convox builds import` of an export tarball into a second app.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import tar from 'tar-stream'
import { silentLogger } from '../../src/core/log.js'
import { RackClient } from '../../src/core/rack/client.js'
import { runExternalBuild } from '../helpers/external-build.js'
import { runImport } from '../../src/core/rack/build-import.js'
import { buildDir } from '../helpers/dockerfile-build.js'
import { startRackFaultProxy } from '../helpers/fault-proxy.js'
import { verifyThroughProxy } from '../helpers/rack-images.js'
import { loadRig, skopeo, type Rig } from '../helpers/rig.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'

let rig: Rig
let server: RackServer
let dir: string
let ociArchive: string

async function writeTarball(
  file: string,
  build: Record<string, string>,
  archives: Record<string, string>
): Promise<void> {
  const pack = tar.pack()
  const done = pipeline(pack, createGzip(), createWriteStream(file))
  const json = Buffer.from(JSON.stringify(build, null, 2))
  pack.entry({ name: 'build.json', size: json.length, mode: 0o600 }, json)
  for (const [name, src] of Object.entries(archives)) {
    const size = (await stat(src)).size
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name, size, mode: 0o644 }, e => (e ? reject(e) : resolve()))
      createReadStream(src).pipe(entry)
    })
  }
  pack.finalize()
  await done
}

beforeAll(async () => {
  rig = loadRig()
  server = await startRackServer({
    apps: ['staging', 'production'],
    registry: { host: rig.registry, username: rig.registryUsername, password: rig.registryPassword }
  })
  dir = await mkdtemp(path.join(tmpdir(), 'rack-rig-'))
  // a tiny real image, as an OCI archive (what `convox builds export` holds per service)
  await writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /\n')
  await writeFile(path.join(dir, 'hello.txt'), `hello ${Date.now()}\n`)
  ociArchive = path.join(dir, 'image.tar')
  const r = await buildDir(dir, `type=oci,dest=${ociArchive}`)
  if (r.exitCode !== 0) throw new Error(`buildctl failed: ${r.stderr.slice(-2000)}`)
})

afterAll(async () => {
  await server?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('rack flows on the rig', () => {
  it('pushes through the rack /v2/ proxy during an external build, then imports it into another app', async () => {
    const rack = new RackClient({ rackUrl: server.rackUrl, retryDelayMs: 10 })
    const manifestText = 'services:\n  web:\n    build: .\n'
    const built = await runExternalBuild(
      rack,
      {
        app: 'staging',
        manifestText,
        description: 'build 1',
        gitSha: 'abc',
        development: false
      },
      async ctx => {
        const { username, password } = ctx.credentials
        const push = await skopeo([
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          `${username}:${password}`,
          `oci-archive:${ociArchive}`,
          `docker://${ctx.repository}:web.${ctx.buildId}`
        ])
        if (push.exitCode !== 0) throw new Error(push.stderr)
        return { images: { web: `${ctx.repository}:web.${ctx.buildId}` }, logs: 'pushed\n' }
      }
    )
    // the image landed in the real registry under the app's repository
    const direct = await skopeo([
      'inspect',
      '--tls-verify=false',
      '--creds',
      `${rig.registryUsername}:${rig.registryPassword}`,
      `docker://${server.upstreamRepository('staging')}:web.${built.buildId}`
    ])
    expect(direct.exitCode).toBe(0)

    // an export of that build: build.json + <service>.<BUILD_ID>.tar
    const record = server.builds.get(built.buildId)!
    const exportFile = path.join(dir, 'build.tgz')
    const exportArchive = path.join(dir, `web.${built.buildId}.tar`)
    const ex = await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      `${rig.registryUsername}:${rig.registryPassword}`,
      `docker://${server.upstreamRepository('staging')}:web.${built.buildId}`,
      `oci-archive:${exportArchive}`
    ])
    expect(ex.exitCode).toBe(0)
    await writeTarball(
      exportFile,
      {
        id: record.id,
        app: 'staging',
        description: record.description,
        logs: record.logs,
        manifest: record.manifest,
        release: record.release,
        status: record.status
      },
      { [`web.${built.buildId}.tar`]: exportArchive }
    )

    const imported = await runImport(rack, {
      app: 'production',
      tarball: exportFile,
      logger: silentLogger,
      verifyImage: verifyThroughProxy
    })
    expect(imported.buildId).not.toBe(built.buildId)
    expect(imported.source).toEqual({ buildId: built.buildId, releaseId: built.releaseId })
    expect(imported.images).toEqual({ web: `${server.host}/production:web.${imported.buildId}` })
    const b = server.builds.get(imported.buildId)!
    expect(b).toMatchObject({
      app: 'production',
      status: 'complete',
      release: imported.releaseId,
      manifest: manifestText,
      description: 'build 1'
    })
    expect(server.releases.get(imported.releaseId)!.build).toBe(imported.buildId)
    // the import request was a streamed raw body
    const req = server.requests.find(r => r.path === '/apps/production/builds/import')!
    expect(req.headers['content-type']).toBe('application/octet-stream')
    expect(server.importFailures).toEqual([])
  })

  it('uses the build an import made when its answer is lost, and never sends the upload twice', async () => {
    const file = path.join(dir, 'build.tgz')
    const proxy = await startRackFaultProxy(server.host)
    try {
      const rack = new RackClient({ rackUrl: proxy.rackUrl(server.password), retryDelayMs: 10 })
      const importPath = '/apps/production/builds/import'
      const count = (): number => server.buildsOf('production').length

      // the rack made the build, the answer was lost: BuildList finds it
      let before = count()
      proxy.fault({ method: 'POST', path: importPath, action: { kind: 'after', status: 502 } })
      const imported = await runImport(rack, {
        app: 'production',
        tarball: file,
        logger: silentLogger,
        verifyImage: verifyThroughProxy
      })
      expect(count()).toBe(before + 1)
      expect(server.builds.get(imported.buildId)).toMatchObject({ status: 'complete' })

      // cut before the rack saw it: nothing found, not sent again, one line
      before = count()
      proxy.fault({ method: 'POST', path: importPath, action: { kind: 'drop' } })
      const e = await runImport(rack, {
        app: 'production',
        tarball: file,
        logger: silentLogger
      }).catch((x: unknown) => x as Error)
      expect((e as Error).message).toMatch(
        new RegExp(
          `^rack ${proxy.host}: POST ${importPath}: connection lost \\(.+\\); nothing of it found on the rack, not sent again$`
        )
      )
      expect(count()).toBe(before)
      expect(proxy.requests.filter(r => r.url === importPath)).toHaveLength(2)
    } finally {
      await proxy.close()
    }
  })

  it("gives an import its own bound, longer than a call's", async () => {
    const proxy = await startRackFaultProxy(server.host)
    try {
      const rack = new RackClient({ rackUrl: proxy.rackUrl(server.password), timeoutMs: 500 })
      // the rack answers the import after 1.5 s: within the import's bound, not a call's
      proxy.fault({
        method: 'POST',
        path: '/apps/production/builds/import',
        action: { kind: 'delay', ms: 1500 }
      })
      const imported = await runImport(rack, {
        app: 'production',
        tarball: path.join(dir, 'build.tgz'),
        logger: silentLogger
      })
      expect(server.builds.get(imported.buildId)).toMatchObject({ status: 'complete' })
      proxy.fault({ method: 'GET', path: '/system', action: { kind: 'delay', ms: 1500 } })
      await expect(rack.systemGet()).rejects.toThrow(
        `rack ${proxy.host}: GET /system: no answer within 500 ms`
      )
    } finally {
      await proxy.close()
    }
  })

  it('fails an import whose image the rack could not push, and marks that build failed', async () => {
    const rack = new RackClient({ rackUrl: server.rackUrl, retryDelayMs: 10 })
    const broken = path.join(dir, 'broken.tar')
    await writeFile(broken, 'not an oci archive')
    const file = path.join(dir, 'broken.tgz')
    await writeTarball(
      file,
      { id: 'BSOURCEAAAAA', release: 'RSOURCEAAAAA', manifest: 'services: {}\n' },
      { 'web.BSOURCEAAAAA.tar': broken }
    )
    await expect(
      runImport(rack, {
        app: 'production',
        tarball: file,
        logger: silentLogger,
        verifyImage: verifyThroughProxy
      })
    ).rejects.toThrow(
      /import into production failed: the rack did not push .*production:web\.B[A-Z]{10}/
    )
    expect(server.importFailures).toHaveLength(1)
    const last = server
      .buildsOf('production')
      .sort((a, b) => (b.started?.getTime() ?? 0) - (a.started?.getTime() ?? 0))[0]!
    expect(last.status).toBe('failed')
  })
})
