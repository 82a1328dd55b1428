import { describe, expect, it } from '@jest/globals'
import { isUserError } from '../../src/core/errors.js'
import { parseChallenges, pickChallenge, tokenUrl } from '../../src/core/registry/auth.js'
import { shellJoin } from '../../src/core/registry/image-config.js'
import {
  pickPlatforms,
  samePlatform,
  selectPlatform
} from '../../src/core/registry/index-platforms.js'
import {
  formatReference,
  isLoopbackHost,
  parseReference,
  parseRepository
} from '../../src/core/registry/reference.js'

const DIGEST = `sha256:${'a'.repeat(64)}`

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['acme/web', 'docker.io/acme/web:latest'],
    ['index.docker.io/acme/web:2', 'docker.io/acme/web:2'],
    ['localhost/app', 'localhost/app:latest'],
    ['127.0.0.1:5050/my-app:web.BABCDEFGHIJ', '127.0.0.1:5050/my-app:web.BABCDEFGHIJ'],
    ['ghcr.io/acme/my_app/sub:v1', 'ghcr.io/acme/my_app/sub:v1'],
    [`redis@${DIGEST}`, `docker.io/library/redis@${DIGEST}`],
    [`redis:7@${DIGEST}`, `docker.io/library/redis:7@${DIGEST}`],
    ['[::1]:5000/app', '[::1]:5000/app:latest']
  ])('%s → %s', (input, expected) => {
    expect(formatReference(parseReference(input))).toBe(expected)
  })

  it.each([
    ['', 'empty'],
    ['Busybox', 'repository name must be lowercase'],
    ['acme/Web', 'repository name must be lowercase'],
    ['busybox:', 'invalid tag ""'],
    ['busybox:-x', 'invalid tag "-x"'],
    ['busybox@sha256:abc', 'invalid digest'],
    ['docker://busybox', 'without a URL scheme'],
    ['a//b', 'empty path component'],
    ['bad host!/x', 'whitespace']
  ])('rejects %j as a UserError (%s)', (input, why) => {
    let caught: unknown
    try {
      parseReference(input, 'registry')
    } catch (e) {
      caught = e
    }
    expect(isUserError(caught)).toBe(true)
    expect((caught as Error).message).toContain(why)
    expect((caught as Error).message).toContain('input "registry"')
  })

  it('parses a repository without tag and refuses one with', () => {
    expect(parseRepository('127.0.0.1:5050/app')).toEqual({
      registry: '127.0.0.1:5050',
      repository: 'app'
    })
    expect(() => parseRepository('ghcr.io/acme/app:v1')).toThrow('without tag or digest')
  })
})

describe('isLoopbackHost', () => {
  it.each([
    ['localhost:5000', true],
    ['127.0.0.1:5050', true],
    ['127.3.4.5', true],
    ['[::1]:5000', true],
    ['ghcr.io', false],
    ['128.0.0.1:5000', false],
    ['registry-1.docker.io', false]
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected)
  })
})

describe('WWW-Authenticate', () => {
  it('parses a Docker Hub Bearer challenge', () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'
    expect(parseChallenges(header)).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull'
        }
      }
    ])
  })

  it('parses several challenges, quoted escapes and bare tokens', () => {
    const header =
      'Basic realm="Registry \\"Realm\\"", charset=UTF-8, Bearer realm=https://x/t,error="invalid_token"'
    expect(parseChallenges(header)).toEqual([
      { scheme: 'basic', params: { realm: 'Registry "Realm"', charset: 'UTF-8' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', error: 'invalid_token' } }
    ])
    expect(pickChallenge(header)?.scheme).toBe('bearer')
    expect(pickChallenge('Basic realm="r"')?.scheme).toBe('basic')
    expect(pickChallenge('Negotiate')).toBeUndefined()
    expect(pickChallenge(null)).toBeUndefined()
  })

  it('builds the token URL with every scope', () => {
    const url = tokenUrl(
      { scheme: 'bearer', params: { realm: 'https://auth.example/token?x=1', service: 'reg' } },
      ['repository:a:pull,push', 'repository:b:pull'],
      'me'
    )
    expect(url.searchParams.get('x')).toBe('1')
    expect(url.searchParams.get('service')).toBe('reg')
    expect(url.searchParams.getAll('scope')).toEqual([
      'repository:a:pull,push',
      'repository:b:pull'
    ])
    expect(url.searchParams.get('account')).toBe('me')
  })
})

/** A manifest descriptor whose digest starts with `name`. */
const d = (name: string, extra = {}) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${name.padEnd(64, '0').slice(0, 64)}`,
  size: 1,
  ...extra
})

describe('selectPlatform', () => {
  const index = {
    schemaVersion: 2,
    manifests: [
      d('arm64', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }),
      d('amd64', { platform: { os: 'linux', architecture: 'amd64' } }),
      d('attest', {
        platform: { os: 'unknown', architecture: 'unknown' },
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest' }
      })
    ]
  }
  it('picks the platform and ignores attestations', () => {
    expect(selectPlatform(index)?.platform?.architecture).toBe('amd64')
    expect(selectPlatform(index, 'linux/arm64/v8')?.platform?.architecture).toBe('arm64')
    expect(selectPlatform(index, 'linux/s390x')).toBeUndefined()
    const single = { schemaVersion: 2, manifests: [index.manifests[0]!, index.manifests[2]!] }
    expect(selectPlatform(single)?.platform?.architecture).toBe('arm64')
  })
})

describe('pickPlatforms', () => {
  const amd = d('a', { platform: { os: 'linux', architecture: 'amd64' } })
  const arm = d('b', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } })
  const armv7 = d('c', { platform: { os: 'linux', architecture: 'arm', variant: 'v7' } })
  // buildx attestations name the image they describe.
  const attest = (of: { digest: string }, name: string) =>
    d(name, {
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: {
        'vnd.docker.reference.type': 'attestation-manifest',
        'vnd.docker.reference.digest': of.digest
      }
    })
  const index = {
    schemaVersion: 2,
    manifests: [amd, arm, armv7, attest(amd, 'e'), attest(arm, 'f')]
  }

  it('keeps the platforms asked for with their attestations, in the index order', () => {
    const p = pickPlatforms(index, ['linux/arm64', 'linux/amd64'])
    expect(p.images).toEqual([amd, arm])
    expect(p.kept.map(m => m.digest.slice(7, 8))).toEqual(['a', 'b', 'e', 'f'])
    expect(p).toMatchObject({ missing: [], whole: false })
    expect(p.available).toEqual(['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'])
  })

  it('is whole when nothing is left out, and says what is missing', () => {
    expect(pickPlatforms(index, ['linux/amd64', 'linux/arm64', 'linux/arm/v7']).whole).toBe(true)
    const p = pickPlatforms(index, ['linux/arm64/v8', 'linux/s390x', 'linux/arm/v6'])
    expect(p.images).toEqual([arm])
    expect(p.missing).toEqual(['linux/s390x', 'linux/arm/v6'])
  })

  it('treats linux/arm64 and linux/arm64/v8 as one platform', () => {
    expect(samePlatform('linux/arm64', 'linux/arm64/v8')).toBe(true)
    expect(samePlatform('linux/arm/v7', 'linux/arm/v6')).toBe(false)
    expect(samePlatform('linux/amd64', 'linux/arm64')).toBe(false)
  })
})

describe('shellJoin (the entrypoint as the rack stores it)', () => {
  it.each([
    [['/bin/sh', '-c'], '/bin/sh -c'],
    [['sh', '-c', 'echo $A'], "sh -c 'echo $A'"],
    [['echo', '$HOME'], 'echo \\$HOME'],
    [['a', ''], "a ''"],
    [['~/x', 'a~b'], '\\~/x a~b'],
    [["it's here"], "'it'\\''s here'"],
    [["'a b'"], "\\''a b'\\'"]
  ])('%j → %s', (words, expected) => {
    expect(shellJoin(words)).toBe(expected)
  })
})

describe('credentials go to the host contacted', () => {
  it("a Docker Hub mirror never gets Docker Hub's login (the push registry's, when it is Docker Hub)", async () => {
    const { createServer } = await import('node:http')
    const seen: string[] = []
    const mirror = createServer((req, res) => {
      seen.push(req.headers.authorization ?? '')
      res.writeHead(401, { 'www-authenticate': 'Basic realm="mirror"' })
      res.end()
    })
    await new Promise<void>(resolve => mirror.listen(0, '127.0.0.1', resolve))
    const host = `127.0.0.1:${(mirror.address() as { port: number }).port}`
    const { registryTools } = await import('../../src/core/engine/registry-copy.js')
    const { silentLogger } = await import('../../src/core/log.js')
    // Pushing to docker.io/acme/app: its login is Docker Hub's; no login for the mirror.
    const tools = registryTools(
      [{ host: 'https://index.docker.io/v1/', username: 'acme', password: 'push-Pw-123456' }],
      host,
      silentLogger
    )
    const e = await tools.client.getManifest(parseReference('busybox:1.36')).catch(x => x as Error)
    await new Promise(resolve => mirror.close(resolve))
    expect(e).toBeInstanceOf(Error)
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.filter(a => a !== '')).toEqual([])
  })
})
