// The export, imported back the way the rack imports it: `skopeo copy oci-archive:<file>
// docker://<repo>:<service>.<newId>` per archive, must give the same images.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { buildRecord, type BuildRecord } from '../../src/core/export/record.js'
import { readTar } from '../../src/core/export/oci-archive.js'
import { readExport, writeExport } from '../../src/core/export/tarball.js'
import { RegistryClient, sha256 } from '../../src/core/registry/client.js'
import { copyImage } from '../../src/core/registry/copy.js'
import { getImageConfig, shellJoin } from '../../src/core/registry/image-config.js'
import { parseReference } from '../../src/core/registry/reference.js'
import { BUILD_JSON_KEYS } from '../helpers/build-json.js'
import {
  buildctl,
  loadRig,
  makeDockerConfig,
  registryCreds,
  rigLogins,
  skopeo,
  uniqueRepo
} from '../helpers/rig.js'
import { Redactor } from '../../src/core/secrets.js'

const rig = loadRig()
const logins = rigLogins(rig)
const client = new RegistryClient({
  credentials: host => logins[host],
  dockerHubRegistry: rig.hubRegistry
})
const BUILD_ID = 'BEXPORTTEST'
const NEW_ID = 'BIMPORTTEST'

async function ok(p: ReturnType<typeof skopeo>): Promise<string> {
  const r = await p
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${r.stderr}`)
  return r.stdout
}

async function rawManifest(ref: string): Promise<Record<string, unknown>> {
  return JSON.parse(
    await ok(
      skopeo([
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--creds',
        registryCreds(rig),
        `docker://${ref}`
      ])
    )
  ) as Record<string, unknown>
}

async function configOf(ref: string): Promise<string> {
  return ok(
    skopeo([
      'inspect',
      '--config',
      '--raw',
      '--tls-verify=false',
      '--creds',
      registryCreds(rig),
      `docker://${ref}`
    ])
  )
}

describe('export', () => {
  let dir: string
  let dockerConfig: string
  const repo = uniqueRepo('export-app')
  const otherRepo = uniqueRepo('export-other')
  let ociTar: string
  let record: BuildRecord

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'export-test-'))
    dockerConfig = await makeDockerConfig(logins)
    const context = join(dir, 'context')
    await rm(context, { recursive: true, force: true })
    await import('node:fs/promises').then(fs => fs.mkdir(context))
    await writeFile(
      join(context, 'Dockerfile'),
      'FROM busybox\nRUN echo hello > /hello && head -c 200000 /dev/urandom > /random\n' +
        'ENV GREETING="hi there"\nENTRYPOINT ["/bin/sh", "-c", "echo $GREETING"]\n'
    )
    ociTar = join(dir, 'worker.oci.tar')
    // One build: pushed with docker media types and a provenance attestation (an index), and
    // written as BuildKit's own OCI tar.
    const built = await buildctl(
      [
        'build',
        '--progress=plain',
        '--frontend=dockerfile.v0',
        `--local=context=${context}`,
        `--local=dockerfile=${context}`,
        '--opt=attest:provenance=mode=min',
        `--output=type=image,name=${repo}:api.${BUILD_ID},push=true,registry.insecure=true`,
        `--output=type=oci,dest=${ociTar}`
      ],
      { rig, dockerConfig }
    )
    if (built.exitCode !== 0) throw new Error(built.stderr)
    // The same build again (cached), pushed as a docker v2 manifest: the archive converts it.
    const docker = await buildctl(
      [
        'build',
        '--frontend=dockerfile.v0',
        `--local=context=${context}`,
        `--local=dockerfile=${context}`,
        `--output=type=image,name=${repo}:web.${BUILD_ID},push=true,oci-mediatypes=false`
      ],
      { rig, dockerConfig }
    )
    if (docker.exitCode !== 0) throw new Error(docker.stderr)
    // An image service: copied from the hub stand-in into the app repository.
    await copyImage(
      client,
      parseReference('busybox:latest'),
      parseReference(`${repo}:redis.${BUILD_ID}`)
    )
  })

  afterAll(async () => {
    for (const d of [dir, dockerConfig]) if (d) await rm(d, { recursive: true, force: true })
  })

  it('writes a tarball the rack imports with skopeo, giving the same images', async () => {
    const api = await getImageConfig(client, parseReference(`${repo}:api.${BUILD_ID}`))
    expect(api.entrypoint).toEqual(['/bin/sh', '-c', 'echo $GREETING'])
    record = buildRecord({
      id: BUILD_ID,
      app: 'export-app',
      description: 'build 1234567890 test & <export>',
      entrypoint: shellJoin(api.entrypoint),
      gitSha: '1234567890abcdef1234567890abcdef12345678',
      manifest:
        'services:\n  api:\n    build: .\n  worker:\n    build: .\n  redis:\n    image: busybox\n',
      release: 'RABCDEFGHIJ',
      repository: `http://convox:${rig.registryPassword}@${repo}`,
      started: new Date('2025-01-02T03:04:05.123Z'),
      ended: { date: new Date('2025-01-02T03:05:06.000Z'), extraNanos: 456 },
      secrets: new Redactor([rig.registryPassword, rig.hubPassword])
    })
    const out = join(dir, 'out', 'build.tgz')
    const result = await writeExport(out, record, [
      { service: 'api', client, image: parseReference(`${repo}:api.${BUILD_ID}`) },
      { service: 'worker', ociTar },
      { service: 'web', client, image: parseReference(`${repo}:web.${BUILD_ID}`) },
      { service: 'redis', client, image: parseReference(`${repo}:redis.${BUILD_ID}`) }
    ])
    expect(result.path).toBe(out)

    const extracted = join(dir, 'extracted')
    const contents = await readExport(out, { extractTo: extracted })
    expect(contents.entries.map(e => e.name)).toEqual([
      'build.json',
      `api.${BUILD_ID}.tar`,
      `worker.${BUILD_ID}.tar`,
      `web.${BUILD_ID}.tar`,
      `redis.${BUILD_ID}.tar`
    ])
    expect(Object.keys(contents.record)).toEqual(BUILD_JSON_KEYS)
    expect(contents.record).toMatchObject({
      id: BUILD_ID,
      status: 'complete',
      entrypoint: "/bin/sh -c 'echo $GREETING'",
      repository: `http://${repo}`,
      started: '2025-01-02T03:04:05.123Z',
      ended: '2025-01-02T03:05:06.000000456Z'
    })
    // No secret anywhere in the tarball.
    const whole = gunzipSync(await readFile(out))
    expect(whole.includes(rig.registryPassword)).toBe(false)
    expect(whole.includes(rig.hubPassword)).toBe(false)

    // Each archive is an OCI layout with the ref.name annotation.
    for (const [service, file] of Object.entries(contents.archives)) {
      const names: string[] = []
      let index = ''
      await readTar(file, async (name, _size, stream) => {
        names.push(name)
        if (name === 'index.json') for await (const c of stream) index += String(c)
      })
      expect(names.slice(0, 2)).toEqual(['oci-layout', 'index.json'])
      const parsed = JSON.parse(index) as { manifests: { annotations: Record<string, string> }[] }
      expect(parsed.manifests).toHaveLength(1)
      expect(parsed.manifests[0]?.annotations['org.opencontainers.image.ref.name']).toBe(
        `${service}.${BUILD_ID}`
      )
    }

    // Import the rack's way and compare configs.
    for (const service of ['api', 'worker', 'web', 'redis']) {
      const archive = contents.archives[service] as string
      const target = `${otherRepo}:${service}.${NEW_ID}`
      await ok(
        skopeo([
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          registryCreds(rig),
          `oci-archive:${archive}`,
          `docker://${target}`
        ])
      )
      const original =
        service === 'worker' ? `${repo}:api.${BUILD_ID}` : `${repo}:${service}.${BUILD_ID}`
      const [importedConfig, originalConfig] = await Promise.all([
        configOf(target),
        configOf(original)
      ])
      expect(sha256(importedConfig)).toBe(sha256(originalConfig))
      expect(sha256(importedConfig)).toBe(result.archives[service]?.configDigest)
      const manifest = await rawManifest(target)
      expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
      expect((manifest.config as { digest: string }).digest).toBe(sha256(originalConfig))
    }
    // The api image was pushed as an index (image + attestation) with docker media types.
    const top = await rawManifest(`${repo}:api.${BUILD_ID}`)
    expect(top.mediaType).toMatch(/index|list/)
    expect(result.archives.api?.configDigest).toBe(api.configDigest)
    const web = await rawManifest(`${repo}:web.${BUILD_ID}`)
    expect(web.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json')
  })
})
