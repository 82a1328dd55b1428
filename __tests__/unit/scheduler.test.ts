// The scheduler against real child processes that speak rawjson (a stand-in engine of ours).
import { describe, expect, it } from '@jest/globals'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runBuilds } from '../../src/core/engine/scheduler.js'
import type { BuildRequest, Engine } from '../../src/core/engine/types.js'
import { UserError } from '../../src/core/errors.js'
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
    run: {
      env: process.env,
      logger,
      secrets: new Redactor(),
      exec: spawnExec,
      github: false,
      tempDir,
      localCacheDir: tempDir
    },
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
    expect(err).toBeInstanceOf(UserError)
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
