import { describe, expect, it } from '@jest/globals'
import {
  cacheOptions,
  canExport,
  isTagOverwriteRefusal,
  resolveCacheMode,
  type CacheContext
} from '../../src/core/engine/cache.js'
import { OWNER } from '../../src/core/run-owner.js'
import { UserError } from '../../src/core/errors.js'
import type { TrustScope } from '../../src/core/trust.js'

const pr7: TrustScope = { kind: 'untrusted', name: 'pr-7', reason: 'pull_request from acme/shop' }
const main: TrustScope = { kind: 'protected', name: 'main', reason: 'push on main' }

const ctx: CacheContext = {
  app: 'shop',
  registry: 'ghcr.io/acme/shop',
  push: true,
  github: true,
  env: {},
  localCacheDir: '/cache',
  noCache: false
}

describe('cache mode auto', () => {
  it('is registry when pushing, gha on GitHub, else local', () => {
    expect(resolveCacheMode('auto', { push: true, github: true })).toBe('registry')
    expect(resolveCacheMode('auto', { push: false, github: true })).toBe('gha')
    expect(resolveCacheMode('auto', { push: false, github: false })).toBe('local')
    expect(resolveCacheMode('inline', { push: true, github: true })).toBe('inline')
  })
})

describe('cache options', () => {
  it('registry: the rack refs, per service', () => {
    expect(cacheOptions('registry', 'web', ctx)).toEqual({
      mode: 'registry',
      imports: ['type=registry,ref=ghcr.io/acme/shop:web.buildcache'],
      exports: [
        'type=registry,ref=ghcr.io/acme/shop:web.buildcache,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true'
      ]
    })
  })

  it('registry with immutable tags: per-build export; the previous build cache, else the shared tag', () => {
    const im = { ...ctx, cacheTags: 'immutable' as const, buildId: 'BNEWNEWNEWN' }
    // The previous build's cache alone: BuildKit mixes several imports racily.
    expect(cacheOptions('registry', 'web', { ...im, previousBuildId: 'BOLDOLDOLDO' })).toEqual({
      mode: 'registry',
      imports: ['type=registry,ref=ghcr.io/acme/shop:web.buildcache.BOLDOLDOLDO'],
      exports: [
        'type=registry,ref=ghcr.io/acme/shop:web.buildcache.BNEWNEWNEWN,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true'
      ]
    })
    // Without a previous build (or its cache): the shared tag.
    expect(cacheOptions('registry', 'web', im).imports).toEqual([
      'type=registry,ref=ghcr.io/acme/shop:web.buildcache'
    ])
    // auto reads the previous build's cache too, and writes the shared tag; mutable only that.
    const prev = { ...ctx, previousBuildId: 'BOLDOLDOLDO' }
    expect(cacheOptions('registry', 'web', { ...prev, cacheTags: 'auto' })).toEqual({
      mode: 'registry',
      imports: ['type=registry,ref=ghcr.io/acme/shop:web.buildcache.BOLDOLDOLDO'],
      exports: [
        'type=registry,ref=ghcr.io/acme/shop:web.buildcache,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true'
      ]
    })
    expect(cacheOptions('registry', 'web', { ...prev, cacheTags: 'mutable' })).toEqual(
      cacheOptions('registry', 'web', ctx)
    )
  })

  it("inline with immutable tags: no shared tag on the image, never the previous build's image", () => {
    // The rack's previous build may be an untrusted run's: its image is no protected cache.
    const o = cacheOptions('inline', 'web', {
      ...ctx,
      cacheTags: 'immutable',
      buildId: 'BNEWNEWNEWN',
      previousBuildId: 'BOLDOLDOLDO'
    })
    expect(o.tags).toBeUndefined()
    expect(o.imports).toEqual(['type=registry,ref=ghcr.io/acme/shop:web.buildcache'])
  })

  it('registry, untrusted: reads its own tag then the protected one, writes only its own', () => {
    expect(cacheOptions('registry', 'web', { ...ctx, scope: pr7 })).toEqual({
      mode: 'registry',
      imports: [
        'type=registry,ref=ghcr.io/acme/shop:web.buildcache.pr-7',
        'type=registry,ref=ghcr.io/acme/shop:web.buildcache'
      ],
      exports: [
        'type=registry,ref=ghcr.io/acme/shop:web.buildcache.pr-7,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true'
      ]
    })
    // Per-build tags carry the scope before the build id; the previous (protected) build's is read.
    const im = cacheOptions('registry', 'web', {
      ...ctx,
      scope: pr7,
      cacheTags: 'immutable',
      buildId: 'BNEWNEWNEWN',
      previousBuildId: 'BOLDOLDOLDO'
    })
    expect(im.exports[0]).toMatch(/:web\.buildcache\.pr-7\.BNEWNEWNEWN,/)
    expect(im.imports).toEqual([
      'type=registry,ref=ghcr.io/acme/shop:web.buildcache.pr-7',
      'type=registry,ref=ghcr.io/acme/shop:web.buildcache.BOLDOLDOLDO'
    ])
    // A protected scope is the rack's own refs, as without one.
    expect(cacheOptions('registry', 'web', { ...ctx, scope: main })).toEqual(
      cacheOptions('registry', 'web', ctx)
    )
  })

  it('inline and local, untrusted: own tag or directory written, the protected one read after', () => {
    const inline = cacheOptions('inline', 'web', { ...ctx, registry: 'r.example/shop', scope: pr7 })
    expect(inline.tags).toEqual(['r.example/shop:web.inlinecache.pr-7'])
    expect(inline.imports).toEqual([
      'type=registry,ref=r.example/shop:web.inlinecache.pr-7',
      'type=registry,ref=r.example/shop:web.inlinecache',
      'type=registry,ref=r.example/shop:web.buildcache'
    ])
    const local = cacheOptions('local', 'web', { ...ctx, scope: pr7 })
    // its own directory through a snapshot of its own (engine/local-cache.ts), the protected one as is
    expect(local.local?.src).toBe('/cache/web.pr-7')
    expect(local.imports).toEqual([
      `type=local,src=${local.local?.read}`,
      'type=local,src=/cache/web'
    ])
    expect(local.local?.read).toMatch(/^\/cache\/web\.pr-7\.read-/)
    expect(local.local?.dest).toMatch(/^\/cache\/web\.pr-7\.new-/)
  })

  it('knows a registry refusing to overwrite a tag (ECR immutable repositories)', () => {
    // As BuildKit prints ECR's answer (moby/buildkit#3776).
    expect(
      isTagOverwriteRefusal(
        "tag invalid: The image tag 'web.buildcache' already exists in the 'acme/shop' repository and cannot be overwritten because the repository is immutable."
      )
    ).toBe(true)
    expect(isTagOverwriteRefusal('ImageTagAlreadyExistsException')).toBe(true)
    for (const other of [
      'failed to do request: Head "https://r/v2/": dial tcp: connection refused',
      'unexpected status from PUT request: 500 Internal Server Error',
      'blob unknown: blob unknown to registry'
    ]) {
      expect(isTagOverwriteRefusal(other)).toBe(false)
    }
  })

  it('registry without a registry is a user error', () => {
    expect(() => cacheOptions('registry', 'web', { ...ctx, registry: '' })).toThrow(UserError)
  })

  it('gha on a branch: one scope per app and service, the runner URL, never the token', () => {
    // buildctl and buildx read ACTIONS_RUNTIME_TOKEN from their environment (buildkit
    // cmd/buildctl/build/util.go loadGithubEnv): an argv is visible to every user of the machine.
    const env = { ACTIONS_CACHE_URL: 'https://c/', ACTIONS_RUNTIME_TOKEN: 'tok' }
    const o = cacheOptions('gha', 'web', { ...ctx, env })
    expect(o.imports).toEqual(['type=gha,scope=shop-web,url=https://c/,version=1'])
    expect(o.exports).toEqual([
      'type=gha,scope=shop-web,mode=max,ignore-error=true,url=https://c/,version=1'
    ])
  })

  it.each([
    // A v1 service that also has a results URL (act, GHES) stays on v1: BuildKit speaks v2 to
    // any url_v2 it is given.
    [
      { ACTIONS_CACHE_URL: 'https://c/', ACTIONS_RESULTS_URL: 'https://r/' },
      ',url=https://c/,version=1'
    ],
    [{ ACTIONS_RESULTS_URL: 'https://r/' }, ',url=https://r/,version=1'],
    [
      {
        ACTIONS_CACHE_URL: 'https://c/',
        ACTIONS_RESULTS_URL: 'https://r/',
        ACTIONS_CACHE_SERVICE_V2: 'True'
      },
      ',url_v2=https://r/,version=2'
    ]
  ])('gha service version as @actions/cache decides it: %j', (env, attributes) => {
    expect(cacheOptions('gha', 'web', { ...ctx, env }).imports).toEqual([
      `type=gha,scope=shop-web${attributes}`
    ])
  })

  it('gha, untrusted (a pull request, a workflow_run of one): writes its own scope, reads it then the protected one', () => {
    const o = cacheOptions('gha', 'web', { ...ctx, scope: pr7 })
    expect(o.exports).toEqual(['type=gha,scope=shop-web-pr-7,mode=max,ignore-error=true,version=1'])
    expect(o.imports).toEqual([
      'type=gha,scope=shop-web-pr-7,version=1',
      'type=gha,scope=shop-web,version=1'
    ])
  })

  it('gha, protected: one scope, whatever the branch', () => {
    const release: TrustScope = { kind: 'protected', name: 'release-1', reason: 'trusted-refs' }
    expect(cacheOptions('gha', 'web', { ...ctx, scope: release }).imports).toEqual([
      'type=gha,scope=shop-web,version=1'
    ])
  })

  it('local: imports from a snapshot of src, exports beside it, both named after the run', () => {
    const o = cacheOptions('local', 'web', ctx)
    const own = `${OWNER}-[0-9a-f]{8}`
    expect(o.local).toEqual({
      src: '/cache/web',
      read: expect.stringMatching(new RegExp(`^/cache/web\\.read-${own}$`)),
      dest: expect.stringMatching(new RegExp(`^/cache/web\\.new-${own}$`))
    })
    expect(o.imports).toEqual([`type=local,src=${o.local!.read}`])
    expect(o.exports).toEqual([`type=local,dest=${o.local!.dest},mode=max,ignore-error=true`])
    // another build, another run: never the same paths
    expect(cacheOptions('local', 'web', ctx).local!.dest).not.toBe(o.local!.dest)
  })

  it('inline and none', () => {
    expect(cacheOptions('inline', 'web', ctx).exports).toEqual(['type=inline'])
    // Pushed images are tagged per build id: the inline cache gets a stable tag to be found by.
    const pushed = cacheOptions('inline', 'web', { ...ctx, registry: 'r.example/shop', push: true })
    expect(pushed.tags).toEqual(['r.example/shop:web.inlinecache'])
    expect(pushed.imports).toEqual([
      'type=registry,ref=r.example/shop:web.inlinecache',
      'type=registry,ref=r.example/shop:web.buildcache'
    ])
    expect(cacheOptions('none', 'web', ctx)).toEqual({ mode: 'none', imports: [], exports: [] })
  })

  it('no-cache: nothing imported, the cache still refreshed', () => {
    const o = cacheOptions('registry', 'web', { ...ctx, noCache: true })
    expect(o.imports).toEqual([])
    expect(o.exports).toHaveLength(1)
  })

  it('the docker driver exports only inline', () => {
    expect(canExport('docker', 'registry')).toBe(false)
    expect(canExport('docker', 'inline')).toBe(true)
    expect(canExport('docker-container', 'gha')).toBe(true)
    expect(canExport('buildkit', 'local')).toBe(true)
  })
})
