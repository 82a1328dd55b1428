import { describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { isUserError, RemoteError } from '../../src/core/errors.js'
import { RegistryClient, sha256 } from '../../src/core/registry/client.js'
import { copyImage } from '../../src/core/registry/copy.js'
import { getImageConfig } from '../../src/core/registry/image-config.js'
import { parseReference } from '../../src/core/registry/reference.js'
import { loadRig, registryCreds, rigLogins, skopeo, uniqueRepo } from '../helpers/rig.js'

const rig = loadRig()
const logins = rigLogins(rig)
const client = (options = {}): RegistryClient =>
  new RegistryClient({
    credentials: host => logins[host],
    dockerHubRegistry: rig.hubRegistry,
    retryDelayMs: 50,
    ...options
  })

async function inspect(ref: string, extra: string[] = []): Promise<Record<string, unknown>> {
  const res = await skopeo([
    'inspect',
    '--tls-verify=false',
    '--creds',
    registryCreds(rig),
    ...extra,
    `docker://${ref}`
  ])
  expect(res.stderr).toBe('')
  return JSON.parse(res.stdout) as Record<string, unknown>
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a rejection')
}

describe('checkLogin', () => {
  it('accepts the right password', async () => {
    await expect(
      client().checkLogin(rig.registry, {
        username: rig.registryUsername,
        password: rig.registryPassword
      })
    ).resolves.toBeUndefined()
  })

  it('rejects a wrong password with one line naming the registry, without the password', async () => {
    const password = `wrong-${randomBytes(6).toString('hex')}`
    const started = Date.now()
    const e = await caught(
      client({ retryDelayMs: 2000 }).checkLogin(rig.registry, {
        username: rig.registryUsername,
        password
      })
    )
    expect(isUserError(e)).toBe(true)
    expect(e.message).toBe(`login to ${rig.registry} failed: wrong username or password`)
    expect(e.message).not.toContain(password)
    // 401 is never retried: a retry would have waited at least 2 s.
    expect(Date.now() - started).toBeLessThan(1500)
  })

  it('gives a clear error for a registry that does not answer, after retrying', async () => {
    // A port that was just freed: the same connection refused as a stopped registry.
    const server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    await new Promise(resolve => server.close(resolve))
    const started = Date.now()
    const e = await caught(
      client({ retries: 2, retryDelayMs: 200 }).checkLogin(`127.0.0.1:${port}`, {
        username: 'u',
        password: 'secret-pw'
      })
    )
    // A registry that gave up is a remote failure (exit code 3), not the user's mistake.
    expect(e).toBeInstanceOf(RemoteError)
    expect(isUserError(e)).toBe(false)
    expect(e.message).toBe(
      `registry 127.0.0.1:${port}: cannot connect (ECONNREFUSED) (gave up after 3 attempts)`
    )
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 0.75 * 200 + 0.75 * 200)
  })
})

describe('copyImage', () => {
  it('copies the hub stand-in busybox into the push registry, all platforms, same digest', async () => {
    const target = parseReference(`${uniqueRepo('copy')}:web.BCOPYTESTAA`)
    const c = client()
    const result = await copyImage(c, parseReference('busybox:latest'), target)
    expect(result.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(result.uploaded).toBeGreaterThanOrEqual(2)
    expect(result.mounted).toBe(0)

    const source = await c.getManifest(parseReference('busybox:latest'))
    expect(result.digest).toBe(source.digest)
    const raw = await skopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      registryCreds(rig),
      `docker://${target.registry}/${target.repository}:${target.tag}`
    ])
    expect(sha256(raw.stdout)).toBe(result.digest)
    const info = await inspect(`${target.registry}/${target.repository}:${target.tag}`)
    expect(info.Digest).toBe(result.digest)

    const config = await getImageConfig(c, target)
    expect(config.digest).toBe(result.digest)
    expect(config.cmd).toEqual(['sh'])
    const hubConfig = await getImageConfig(c, parseReference('busybox:latest'))
    expect(config.configDigest).toBe(hubConfig.configDigest)
  })

  it('mounts blobs within one registry instead of uploading them', async () => {
    const c = client()
    const first = parseReference(`${uniqueRepo('mount-a')}:web.BMOUNTAAAAA`)
    const second = parseReference(`${uniqueRepo('mount-b')}:web.BMOUNTBBBBB`)
    const copied = await copyImage(c, parseReference('busybox:latest'), first)
    const mounted = await copyImage(c, first, second)
    expect(mounted.digest).toBe(copied.digest)
    expect(mounted.uploaded).toBe(0)
    expect(mounted.mounted).toBe(copied.uploaded)
    const again = await copyImage(c, first, second)
    expect(again).toMatchObject({ uploaded: 0, mounted: 0, existing: copied.uploaded })
  })
})

describe('uploadBlob', () => {
  const c = client()
  const repo = (): ReturnType<typeof parseReference> => parseReference(uniqueRepo('blob'))

  it.each([
    ['monolithic', undefined],
    ['chunked', 64 * 1024]
  ])('uploads a streamed blob %s and reads it back', async (_name, chunkSize) => {
    const target = repo()
    const data = randomBytes(300 * 1024 + 17)
    const digest = sha256(data)
    const how = await c.uploadBlob(
      target,
      { digest, size: data.length },
      () => Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
      { chunkSize }
    )
    expect(how).toBe('uploaded')
    expect(await c.headBlob(target, digest)).toBe(data.length)
    const { stream } = await c.getBlob(target, digest)
    const parts: Buffer[] = []
    for await (const part of stream) parts.push(part as Buffer)
    expect(Buffer.concat(parts).equals(data)).toBe(true)
    expect(await c.uploadBlob(target, { digest, size: data.length }, () => Readable.from([]))).toBe(
      'exists'
    )
  })

  it('refuses a blob whose bytes do not match its digest', async () => {
    const data = randomBytes(1024)
    const e = await caught(
      c.uploadBlob(repo(), { digest: sha256('other'), size: data.length }, () =>
        Readable.from([data])
      )
    )
    expect(e.message).toMatch(/HTTP 400.*DIGEST_INVALID/)
  })

  it('reports a missing image as a user error', async () => {
    const e = await caught(c.getManifest(parseReference(`${uniqueRepo('none')}:nothing`)))
    expect(isUserError(e)).toBe(true)
    expect(e.message).toMatch(/^image 127\.0\.0\.1:\d+\/none-[0-9a-f]+:nothing not found$/)
  })
})
