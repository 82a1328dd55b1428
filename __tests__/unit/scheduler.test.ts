// The scheduler against real child processes that speak rawjson (a stand-in engine of ours).
import { describe, expect, it } from '@jest/globals'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runBuilds } from '../../src/core/engine/scheduler.js'
import type { BuildRequest, Engine } from '../../src/core/engine/types.js'
import { BuildError } from '../../src/core/errors.js'
import { spawnExec } from '../../src/core/exec.js'
import type { Logger } from '../../src/core/log.js'
import { makePlan } from '../helpers/engine-plan.js'
import { captureLogger } from '../helpers/logger.js'
import { Redactor } from '../../src/core/secrets.js'

const T = '2026-01-01T00:00:00Z'
const b64 = (s: string): string => Buffer.from(s).toString('base64')

/** Prints a rawjson build of one RUN step that sleeps, then fails or writes the metadata. */
const shEngine: Engine = {
  name: 'buildctl',
  description: 'sh stand-in',
  driver: 'buildkit',
  command(req: BuildRequest) {
    const { SLEEP = '0', FAIL = '' } = req.spec.argValues
    const v = (extra: object) =>
      JSON.stringify({
        vertexes: [{ digest: `sha256:${req.index}`, name: '[1/1] RUN work', started: T, ...extra }]
      })
    const script = [
      `echo '${v({})}' >&2`,
      `echo '${JSON.stringify({ logs: [{ vertex: `sha256:${req.index}`, data: b64(`secret=${req.spec.argValues.BUILD_AUTH ?? ''}\n`) }] })}' >&2`,
      `trap 'kill $! 2>/dev/null; exit 143' TERM; sleep ${SLEEP} & wait $!`,
      FAIL
        ? `echo '${v({ completed: T, error: FAIL })}' >&2; echo 'error: failed to solve: ${FAIL}' >&2; exit 1`
        : `echo '${v({ completed: T, cached: req.index === 0 })}' >&2; echo '{"containerimage.digest":"sha256:d${req.index}"}' > ${req.metadataFile}`
    ].join('\n')
    return { command: 'sh', args: ['-c', script], env: {} }
  }
}

/** A run of the stand-in engines: this process's env, files under `tempDir`. */
function runEnvironment(tempDir: string, logger: Logger) {
  return {
    env: process.env,
    logger,
    secrets: new Redactor(),
    exec: spawnExec,
    github: false,
    tempDir,
    localCacheDir: tempDir
  }
}

async function run(
  builds: Array<Record<string, string>>,
  concurrency: number,
  logger: Logger = captureLogger().logger,
  only?: string[]
) {
  const tempDir = await mkdtemp(path.join(tmpdir(), 'sched-'))
  const plan = makePlan({
    root: tempDir,
    registry: 'r.example/app',
    builds: builds.map((argValues, i) => ({
      services: i === 0 ? ['web', 'worker'] : [`s${i}`],
      context: '.',
      argValues
    }))
  })
  return runBuilds({
    plan,
    engine: shEngine,
    run: runEnvironment(tempDir, logger),
    childEnv: {},
    cache: 'none',
    noCache: false,
    push: true,
    platforms: [],
    concurrency,
    only
  })
}

describe('scheduler', () => {
  it('runs distinct builds concurrently, shared builds once, digests per service', async () => {
    const t0 = Date.now()
    const r = await run([{ SLEEP: '1' }, { SLEEP: '1' }, { SLEEP: '1' }], 3)
    expect(Date.now() - t0).toBeLessThan(2500)
    expect(r.builds).toHaveLength(3)
    const web = r.services.find(s => s.name === 'web')!
    const worker = r.services.find(s => s.name === 'worker')!
    expect(web.digest).toBe('sha256:d0')
    expect(worker.digest).toBe('sha256:d0')
    expect(web.sharedWith).toEqual(['worker'])
    expect(web).toMatchObject({ cachedSteps: 1, totalSteps: 1 })
    expect(r.services.find(s => s.name === 's1')).toMatchObject({
      digest: 'sha256:d1',
      cachedSteps: 0
    })
    expect(r.engineMs).toBeLessThanOrEqual(r.wallMs)
  })

  it('respects concurrency', async () => {
    const t0 = Date.now()
    await run([{ SLEEP: '0.6' }, { SLEEP: '0.6' }, { SLEEP: '0.6' }], 1)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1800)
  })

  it('a failure aborts the others and names the service and BuildKit reason in one line', async () => {
    const t0 = Date.now()
    const reason = 'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    const err = await run([{ SLEEP: '30' }, { SLEEP: '0.2', FAIL: reason }], 2).catch(e => e)
    expect(Date.now() - t0).toBeLessThan(10000)
    // A failed build is a build failure (exit code 2), reported as one line like a user's mistake.
    expect(err).toBeInstanceOf(BuildError)
    expect((err as Error).message).toBe(`build of s1 failed: ${reason}`)
  })

  it('builds only the services of a fan-out leg, a shared build tagged for them alone', async () => {
    const r = await run([{}, {}, {}], 4, undefined, ['worker', 's2'])
    expect(r.builds.map(b => [b.index, b.services])).toEqual([
      [0, ['worker']],
      [2, ['s2']]
    ])
    expect(r.services.map(s => s.name)).toEqual(['worker', 's2'])
  })

  it('redacts BUILD_AUTH from logs', async () => {
    const c = captureLogger()
    await run([{ BUILD_AUTH: '{"r":{"Password":"pw-xyz"}}' }], 1, c.logger)
    expect(c.text()).toContain('secret=***')
    expect(c.text()).not.toContain('pw-xyz')
  })
})

describe('scheduler: cache tags a registry refuses to overwrite', () => {
  const refusal =
    "error writing manifest blob: failed commit on ref \"index-sha256:1\": tag invalid: The image tag 'TAG' already exists in the 'app' repository and cannot be overwritten because the repository is immutable."

  /**
   * A stand-in engine whose registry cache export fails (ignore-error: the build still succeeds)
   * when it writes a tag that exists: `taken` holds the tags written so far.
   */
  function refusingEngine(taken: Set<string>, runs: BuildRequest[]): Engine {
    return {
      name: 'buildctl',
      description: 'sh stand-in',
      driver: 'buildkit',
      command(req: BuildRequest) {
        runs.push(structuredClone(req))
        if (req.cache.mode === 'inline') {
          // The inline cache's tag is one of the image's: its push fails the build.
          const names = req.tags.map(t => t.slice(t.lastIndexOf(':') + 1))
          const tag = names.find(t => taken.has(t))
          if (!tag) for (const t of names) taken.add(t)
          const failed = tag
            ? `echo 'error: failed to solve: ${refusal.replace('TAG', tag).replace(/'/g, `'\\''`)}' >&2; exit 1`
            : `echo '{"containerimage.digest":"sha256:d${req.index}"}' > ${req.metadataFile}`
          return { command: 'sh', args: ['-c', failed], env: {}, exposed: [] }
        }
        const exportRef = /ref=([^,]+)/.exec(req.cache.exports[0] ?? '')?.[1] ?? ''
        const tag = exportRef.slice(exportRef.lastIndexOf(':') + 1)
        const refused = taken.has(tag)
        taken.add(tag)
        const vertex = (name: string, extra: object) =>
          JSON.stringify({
            vertexes: [{ digest: `sha256:${name}`, name, started: T, ...extra }]
          }).replace(/'/g, `'\\''`)
        const script = [
          `echo '${vertex('[1/1] RUN work', { completed: T, cached: runs.length > 1 })}' >&2`,
          `echo '${vertex('exporting cache to registry', { completed: T, ...(refused ? { error: refusal.replace('TAG', tag) } : {}) })}' >&2`,
          `echo '{"containerimage.digest":"sha256:d${req.index}"}' > ${req.metadataFile}`
        ].join('\n')
        return { command: 'sh', args: ['-c', script], env: {}, exposed: [] }
      }
    }
  }

  async function cacheRun(
    cacheTags: 'auto' | 'mutable' | 'immutable',
    taken: Set<string>,
    previousBuildId?: string,
    previousCacheExists = true,
    cache: 'registry' | 'inline' = 'registry',
    leg: { webBuild?: string[]; only?: string[] } = {}
  ) {
    const tempDir = await mkdtemp(path.join(tmpdir(), 'sched-cache-'))
    const plan = makePlan({
      root: tempDir,
      registry: 'r.example/app',
      buildId: 'BNEWNEWNEWN',
      builds: [
        { services: leg.webBuild ?? ['web'], context: '.' },
        { services: ['api'], context: '.' }
      ]
    })
    const runs: BuildRequest[] = []
    const lookups: string[] = []
    const c = captureLogger()
    const r = await runBuilds({
      plan,
      engine: refusingEngine(taken, runs),
      run: runEnvironment(tempDir, c.logger),
      childEnv: {},
      cache,
      cacheTags,
      previousBuildId,
      // The previous build left its per-build cache (looked up before any build).
      hasManifest: async ref => {
        lookups.push(ref)
        return previousCacheExists && ref.endsWith(`.${previousBuildId}`)
      },
      noCache: false,
      push: true,
      platforms: [],
      concurrency: 1,
      only: leg.only
    })
    const exports = runs.map(q => /ref=[^:]+:([^,]+)/.exec(q.cache.exports[0] ?? '')?.[1])
    return { r, runs, exports, lookups, log: c }
  }

  it('auto: one warning, the refused build exports again under its own tag, the next starts so', async () => {
    const { r, runs, exports, log } = await cacheRun(
      'auto',
      new Set(['web.buildcache', 'api.buildcache']),
      'BOLDOLDOLDO'
    )
    expect(exports).toEqual([
      'web.buildcache',
      'web.buildcache.BNEWNEWNEWN',
      'api.buildcache.BNEWNEWNEWN'
    ])
    expect(r.warnings).toHaveLength(1)
    expect(r.warnings[0]).toContain(
      'the registry refuses to overwrite the cache tag r.example/app:web.buildcache'
    )
    expect(r.warnings[0]).toContain("already exists in the 'app' repository")
    // The previous build's cache is read (instead of the shared tag), before and after the switch.
    expect(runs[0]!.cache.imports).toEqual([
      'type=registry,ref=r.example/app:web.buildcache.BOLDOLDOLDO'
    ])
    expect(runs[2]!.cache.imports).toEqual([
      'type=registry,ref=r.example/app:api.buildcache.BOLDOLDOLDO'
    ])
    expect(log.text()).toContain(
      "[web] exporting the cache again under r.example/app:web.buildcache.BNEWNEWNEWN (the build is in BuildKit's cache"
    )
    // The first run's counts stand: the re-run only exported the cache.
    expect(r.builds[0]).toMatchObject({ cachedSteps: 0, totalSteps: 1, digest: 'sha256:d0' })
    expect(r.builds[0]!.log).toContain(
      'exported again under r.example/app:web.buildcache.BNEWNEWNEWN'
    )
  })

  it('auto on a registry that takes the tag: nothing changes', async () => {
    const { r, exports } = await cacheRun('auto', new Set())
    expect(exports).toEqual(['web.buildcache', 'api.buildcache'])
    expect(r.warnings).toEqual([])
  })

  it('mutable: a warning per build with the fix, never a re-run or a failure', async () => {
    const { r, runs, exports, lookups } = await cacheRun(
      'mutable',
      new Set(['web.buildcache', 'api.buildcache']),
      'BOLDOLDOLDO'
    )
    expect(exports).toEqual(['web.buildcache', 'api.buildcache'])
    expect(runs[0]!.cache.imports).toEqual(['type=registry,ref=r.example/app:web.buildcache'])
    expect(lookups).toEqual([])
    expect(r.warnings).toHaveLength(2)
    expect(r.warnings[0]).toMatch(
      /^web: the registry refuses to overwrite the cache tag r\.example\/app:web\.buildcache .*set cache-tags to auto or immutable/
    )
    expect(r.services.map(s => s.digest)).toEqual(['sha256:d0', 'sha256:d1'])
  })

  it('inline: a refused inline-cache tag fails no build; pushed again without it, one warning', async () => {
    const { r, runs } = await cacheRun(
      'auto',
      new Set(['web.inlinecache', 'api.inlinecache']),
      'BOLDOLDOLDO',
      true,
      'inline'
    )
    expect(runs.map(q => q.tags)).toEqual([
      ['r.example/app:web.BNEWNEWNEWN', 'r.example/app:web.inlinecache'],
      ['r.example/app:web.BNEWNEWNEWN'],
      ['r.example/app:api.BNEWNEWNEWN']
    ])
    // After the switch the rack's cache is read: never the previous build's image, which an
    // untrusted run may have made (src/core/trust.ts).
    expect(runs[2]!.cache.imports).toEqual(['type=registry,ref=r.example/app:api.buildcache'])
    expect(r.warnings).toHaveLength(1)
    expect(r.warnings[0]).toContain(
      'refuses to overwrite the cache tag r.example/app:web.inlinecache'
    )
    expect(r.services.map(s => s.digest)).toEqual(['sha256:d0', 'sha256:d1'])
  })

  it("inline, a leg building a shared build for its second service: the refused tag is the first service's", async () => {
    const { r, runs } = await cacheRun(
      'auto',
      new Set(['web.inlinecache']),
      undefined,
      true,
      'inline',
      {
        webBuild: ['web', 'worker'],
        only: ['worker']
      }
    )
    expect(runs.map(q => q.tags)).toEqual([
      ['r.example/app:worker.BNEWNEWNEWN', 'r.example/app:web.inlinecache'],
      ['r.example/app:worker.BNEWNEWNEWN']
    ])
    expect(r.warnings).toHaveLength(1)
    expect(r.warnings[0]).toContain(
      'refuses to overwrite the cache tag r.example/app:web.inlinecache'
    )
    expect(r.services.map(s => [s.name, s.digest])).toEqual([['worker', 'sha256:d0']])
  })

  it('registry, a leg building a shared build for its second service: the warning names the cache written', async () => {
    const { r, exports, log } = await cacheRun(
      'auto',
      new Set(['web.buildcache']),
      undefined,
      true,
      'registry',
      {
        webBuild: ['web', 'worker'],
        only: ['worker']
      }
    )
    expect(exports).toEqual(['web.buildcache', 'web.buildcache.BNEWNEWNEWN'])
    expect(r.warnings).toHaveLength(1)
    expect(r.warnings[0]).toContain(
      'the registry refuses to overwrite the cache tag r.example/app:web.buildcache'
    )
    expect(log.text()).toContain(
      '[worker] exporting the cache again under r.example/app:web.buildcache.BNEWNEWNEWN'
    )
  })

  it('a previous build without a per-build cache: the shared tag is read', async () => {
    const { runs, lookups } = await cacheRun('immutable', new Set(), 'BNOCACHEAAA', false)
    expect(lookups).toEqual([
      'r.example/app:web.buildcache.BNOCACHEAAA',
      'r.example/app:api.buildcache.BNOCACHEAAA'
    ])
    expect(runs.map(q => q.cache.imports)).toEqual([
      ['type=registry,ref=r.example/app:web.buildcache'],
      ['type=registry,ref=r.example/app:api.buildcache']
    ])
  })

  it('immutable: per-build tags from the start; without a previous build, the shared tag is read', async () => {
    const { r, runs, exports } = await cacheRun('immutable', new Set(['web.buildcache']))
    expect(exports).toEqual(['web.buildcache.BNEWNEWNEWN', 'api.buildcache.BNEWNEWNEWN'])
    expect(runs[0]!.cache.imports).toEqual(['type=registry,ref=r.example/app:web.buildcache'])
    expect(r.warnings).toEqual([])
  })
})

describe('build checks of several builds', () => {
  // Every build replays the rig's rawjson of the build-checks fixture Dockerfile.
  const fixture = path.resolve('__tests__/fixtures/build-checks/buildctl-warn.rawjson')
  const checksEngine: Engine = {
    ...shEngine,
    command: (req: BuildRequest) => ({
      command: 'sh',
      args: ['-c', `cat '${fixture}' >&2; echo '{}' > '${req.metadataFile}'`],
      env: {}
    })
  }

  it('says a check of a Dockerfile two builds share once, at the Dockerfile', async () => {
    const tempDir = await mkdtemp(path.join(tmpdir(), 'sched-checks-'))
    const plan = makePlan({
      root: tempDir,
      registry: 'r.example/app',
      builds: [
        { services: ['web'], context: '.', argValues: { A: '1' } },
        { services: ['tool'], context: '.', argValues: { A: '2' } }
      ]
    })
    const log = captureLogger()
    const r = await runBuilds({
      plan,
      engine: checksEngine,
      run: runEnvironment(tempDir, log.logger),
      childEnv: {},
      cache: 'none',
      noCache: false,
      push: true,
      platforms: [],
      concurrency: 2
    })
    expect(r.builds).toHaveLength(2)
    expect(r.checks.map(c => [c.rule, c.file, c.line])).toEqual([
      ['FromAsCasing', 'Dockerfile', 1],
      ['SecretsUsedInArgOrEnv', 'Dockerfile', 2],
      ['JSONArgsRecommended', 'Dockerfile', 3]
    ])
    expect(log.warnings.map(w => w.where)).toEqual(
      r.checks.map(c => ({
        file: 'Dockerfile',
        line: c.line,
        title: c.rule
      }))
    )
  })
})
