// Verified reuse by identity, through the pipeline on the rig's registry: an image under a reuse
// key tag whose only signature is keyless is reused when its Fulcio certificate (of the mock
// Sigstore instance, helpers/sigstore-mock.ts) names this repository on a protected ref; a pull
// request's identity, or a certificate of another Sigstore instance, is not trusted by a main
// run, which builds and says why in one line. The main run's context is GitHub's push to main
// (__tests__/fixtures/trust/push-main.json); the planting runs are local runs (protected: they
// write the shared key tags, as a leaked token could) holding another identity's token.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp,
  type PipelineRun
} from '../helpers/pipeline.js'
import { loadRig, uniqueRepo } from '../helpers/rig.js'
import { githubToken, startSigstoreMock, type SigstoreMock } from '../helpers/sigstore-mock.js'
import { trustCase, trustEnv } from '../helpers/trust-cases.js'

const rig = loadRig()
const ARGS = 'BUILD_APP\nBUILD_GIT_SHA\nVERSION=1.2.3'
const BUILT = ['web', 'worker', 'api']

let example: ExampleApp
let dir: string
let mock: SigstoreMock
let other: SigstoreMock
let mainEnv: Record<string, string>

beforeAll(async () => {
  example = await exampleApp()
  dir = await mkdtemp(path.join(tmpdir(), 'reuse-keyless-'))
  ;[mock, other] = await Promise.all([startSigstoreMock(), startSigstoreMock()])
  await writeFile(path.join(dir, 'trusted_root.json'), mock.trustedRoot)
  const c = trustCase('push-main', { base: example.sha, head: example.sha })
  mainEnv = await trustEnv(c, dir, 'push-main')
})
afterAll(async () => {
  await Promise.all([mock?.close(), other?.close()])
  for (const d of [dir, example?.dir]) if (d) await rm(d, { recursive: true, force: true })
})

function ok(r: PipelineRun): NonNullable<PipelineRun['result']> {
  if (r.error) throw r.error
  return r.result!
}

/** A run signing keylessly as `ref` of acme/app through `instance`; on main's CI context or none. */
const runAs = (
  registry: string,
  ref: string,
  o: { main?: boolean; instance?: SigstoreMock } = {}
): Promise<PipelineRun> => {
  const instance = o.instance ?? mock
  return runWithInputs(
    {
      ...rigInputs(rig),
      'build-args': ARGS,
      app: 'example',
      registry,
      'registry-username': rig.registryUsername,
      'registry-password': rig.registryPassword,
      'sigstore-fulcio-url': instance.fulcioUrl,
      'sigstore-rekor-url': instance.rekorUrl,
      'sigstore-trusted-root': path.join(dir, 'trusted_root.json')
    },
    {
      env: pipelineEnv(rig, o.main ? mainEnv : {}),
      cwd: example.dir,
      idToken: async () => githubToken('acme/app', ref)
    }
  )
}

const reused = (r: PipelineRun): string[] =>
  ok(r)
    .services.filter(s => s.reusedFrom)
    .map(s => s.name)
    .sort()

describe('reuse verifies the keyless identity that signed the image', () => {
  it("a pull request's image under the key tag is not reused by main; main's own is", async () => {
    const registry = uniqueRepo('reuse-keyless-pr', rig)
    // Planted: a pull request's identity signed what is under the shared key tags.
    expect(reused(await runAs(registry, 'refs/pull/7/merge'))).toEqual([])

    const main = await runAs(registry, 'refs/heads/main', { main: true })
    expect(reused(main)).toEqual([])
    const why = main.log.lines.filter(l => / not reused: /.test(l))
    expect(why.sort()).toEqual([
      '[api] not reused: reuse key signed by refs/pull/7/merge, not trusted on refs/heads/main: building',
      '[web, worker] not reused: reuse key signed by refs/pull/7/merge, not trusted on refs/heads/main: building'
    ])
    expect(main.log.lines).toContain('scope main (protected): push on main, the default branch')

    // main signed what it pushed: the next main run reuses every build.
    const again = await runAs(registry, 'refs/heads/main', { main: true })
    expect(reused(again)).toEqual([...BUILT].sort())
    expect(again.log.lines.filter(l => / not reused: /.test(l))).toEqual([])
  })

  it('a certificate of another Sigstore instance is not trusted, whatever identity it names', async () => {
    const registry = uniqueRepo('reuse-keyless-foreign', rig)
    expect(reused(await runAs(registry, 'refs/heads/main', { instance: other }))).toEqual([])
    const main = await runAs(registry, 'refs/heads/main', { main: true })
    expect(reused(main)).toEqual([])
    const why = main.log.lines.filter(l => /^\[web, worker\] not reused: /.test(l))
    expect(why).toHaveLength(1)
    expect(why[0]).toMatch(
      /:web\.[0-9a-f]+: its keyless signature does not verify \(.+\): building$/
    )
  })
})
