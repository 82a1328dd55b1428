// Verified reuse: with a signing key, an image under a reuse key tag is reused only when a
// trusted key signed it (cosign's signature, read from `sha256-<hex>.sig`). A planted unsigned
// image, or one signed by another key, is built again and the log says why in one line;
// `reuse-trust` adds keys (or `any`); an image signed by the run's key is reused as before.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { rm } from 'node:fs/promises'
import {
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp,
  type PipelineRun
} from '../helpers/pipeline.js'
import { keyPair } from '../helpers/cosign.js'
import { loadRig, uniqueRepo } from '../helpers/rig.js'

const rig = loadRig()
const ARGS = 'BUILD_APP\nBUILD_GIT_SHA\nVERSION=1.2.3'
const BUILT = ['web', 'worker', 'api']

let example: ExampleApp

const ours = keyPair()
const theirs = keyPair()

beforeAll(async () => {
  example = await exampleApp()
})
afterAll(async () => {
  if (example?.dir) await rm(example.dir, { recursive: true, force: true })
})

function ok(r: PipelineRun): NonNullable<PipelineRun['result']> {
  if (r.error) throw r.error
  return r.result!
}

const runIn = (registry: string, inputs: Record<string, string>): Promise<PipelineRun> =>
  runWithInputs(
    {
      ...rigInputs(rig),
      'build-args': ARGS,
      app: 'example',
      registry,
      'registry-username': rig.registryUsername,
      'registry-password': rig.registryPassword,
      ...inputs
    },
    { env: pipelineEnv(rig), cwd: example.dir }
  )

const reused = (r: PipelineRun): string[] =>
  ok(r)
    .services.filter(s => s.reusedFrom)
    .map(s => s.name)

describe('reuse verifies who signed the image', () => {
  it('does not reuse a planted unsigned image; says why; reuses once it is signed', async () => {
    const registry = uniqueRepo('reuse-unsigned', rig)
    // Planted: pushed under the key tags by a run that signs nothing.
    expect(reused(await runIn(registry, { sign: 'off' }))).toEqual([])
    const second = await runIn(registry, { 'signing-key': ours.key })
    expect(reused(second)).toEqual([])
    const why = second.log.lines.filter(l => /\[web, worker\] not reused: /.test(l))
    expect(why).toHaveLength(1)
    expect(why[0]).toMatch(/:web\.[0-9a-f]+ is unsigned: building$/)
    // That run signed what it pushed: the next reuses it, every build.
    const third = await runIn(registry, { 'signing-key': ours.key })
    expect(reused(third).sort()).toEqual([...BUILT].sort())
  })

  it('does not reuse an image signed by another key unless reuse-trust names it', async () => {
    const registry = uniqueRepo('reuse-foreign', rig)
    expect(reused(await runIn(registry, { 'signing-key': theirs.key }))).toEqual([])
    const foreign = await runIn(registry, { 'signing-key': ours.key, reuse: 'true' })
    expect(reused(foreign)).toEqual([])
    expect(
      foreign.log.lines.filter(l =>
        /\[api\] not reused: .*:api\.[0-9a-f]+ is not signed by a trusted key: building$/.test(l)
      )
    ).toHaveLength(1)
  })

  it("reuses another key's image when reuse-trust names its public key, and anything with `any`", async () => {
    const registry = uniqueRepo('reuse-trust', rig)
    expect(reused(await runIn(registry, { 'signing-key': theirs.key }))).toEqual([])
    const trusted = await runIn(registry, { 'signing-key': ours.key, 'reuse-trust': theirs.pub })
    expect(reused(trusted).sort()).toEqual([...BUILT].sort())

    const unsigned = uniqueRepo('reuse-any', rig)
    expect(reused(await runIn(unsigned, { sign: 'off' }))).toEqual([])
    const any = await runIn(unsigned, { 'signing-key': ours.key, 'reuse-trust': 'any' })
    expect(reused(any).sort()).toEqual([...BUILT].sort())
  })
})
