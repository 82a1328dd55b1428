import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { silentLogger } from '../../src/core/log.js'
import { spawnExec } from '../../src/core/exec.js'
import { runPipeline, type PipelineResult } from '../../src/core/pipeline/index.js'
import { readSettings } from '../../src/core/settings.js'
import { actionOutputs, artifactUrl } from '../../src/action/action-outputs.js'
import { Redactor } from '../../src/core/secrets.js'
import { ciOf } from '../../src/ci/context.js'

const examples = path.resolve('examples')
let tempDir: string
let result: PipelineResult

beforeAll(async () => {
  tempDir = await mkdtemp(path.join(tmpdir(), 'outputs-test-'))
  const inputs: Record<string, string> = {
    'working-directory': examples,
    app: 'myapp',
    'build-args': 'BUILD_GIT_SHA\nVERSION=1.2.3',
    'dry-run': 'true'
  }
  const env = { GITHUB_ACTIONS: 'true', GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' }
  const settings = readSettings(n => inputs[n] ?? '', { env, cwd: examples })
  // The real core on the example app, in dry run: the outputs of an actual plan.
  result = await runPipeline(settings, {
    env,
    logger: silentLogger,
    secrets: new Redactor(),
    exec: spawnExec,
    github: true,
    tempDir,
    localCacheDir: path.join(tempDir, 'cache'),
    ci: ciOf(settings, env, spawnExec)
  })
})
afterAll(() => rm(tempDir, { recursive: true, force: true }))

describe('action outputs', () => {
  it('sets every output of action.yml, structured ones as JSON', () => {
    const out = actionOutputs(result)
    expect(Object.keys(out).sort()).toEqual(
      [
        'artifact-id',
        'artifact-url',
        'build-id',
        'digests',
        'export-path',
        'images',
        'matrix',
        'plan',
        'release-id',
        'reused',
        'review-app',
        'review-urls'
      ].sort()
    )
    // One build leg per distinct build, services that share a build together.
    expect(JSON.parse(out.matrix)).toEqual({
      include: [{ services: 'web,worker' }, { services: 'api' }]
    })
    expect(out['build-id']).toMatch(/^B[A-Z]{10}$/)
    const plan = JSON.parse(out.plan)
    expect(plan.buildId).toBe(out['build-id'])
    expect(plan.services.map((s: { name: string }) => s.name)).toEqual([
      'web',
      'worker',
      'api',
      'cache'
    ])
    expect(JSON.parse(out.images)).toEqual(result.images)
    expect(JSON.parse(out.digests)).toEqual(result.digests)
    expect(out.plan).not.toContain('1.2.3')
    expect(out['artifact-id']).toBe('')
    expect(JSON.parse(out.reused)).toEqual({})
  })

  it('reused: each service not built, to the image it was reused from', () => {
    const services = result.plan.services.map(s => ({
      name: s.name,
      image: s.image,
      digest: 'sha256:' + 'a'.repeat(64),
      build: s.build,
      sharedWith: [],
      cachedSteps: 0,
      totalSteps: 0,
      durationMs: 1,
      ...(s.build === 0 ? { reusedFrom: `reg/app:web.${'f'.repeat(32)}` } : {})
    }))
    const out = actionOutputs({ ...result, services })
    expect(JSON.parse(out.reused)).toEqual({
      web: `reg/app:web.${'f'.repeat(32)}`,
      worker: `reg/app:web.${'f'.repeat(32)}`
    })
  })

  it('adds the artifact and its page in the run', () => {
    const env = { GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '42' }
    const url = artifactUrl(env, 7)
    expect(url).toBe('https://github.com/acme/shop/actions/runs/42/artifacts/7')
    const out = actionOutputs(result, { id: 7, url })
    expect(out['artifact-id']).toBe('7')
    expect(out['artifact-url']).toBe(url)
  })
})
