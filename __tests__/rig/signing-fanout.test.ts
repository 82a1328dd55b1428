// Signing in a fan-out through the CLI (dist/cli.js): the key given as CONVOX_BUILD_SIGNING_KEY
// (as every input, and never on argv), the finish stage signs every image the legs pushed, and
// cosign verifies them; the key is in no stage's output.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { ExecResult } from '../../src/core/exec.js'
import { cosign, firstStatement, keyPair } from '../helpers/cosign.js'
import { exampleApp, type ExampleApp } from '../helpers/pipeline.js'
import {
  CLI,
  loadRig,
  makeDockerConfig,
  rigCliEnv,
  rigCliFlags,
  rigLogins,
  run,
  uniqueRepo
} from '../helpers/rig.js'

const rig = loadRig()
const { key, pub } = keyPair()
let dockerConfig: string
let source: ExampleApp

beforeAll(async () => {
  dockerConfig = await makeDockerConfig(rigLogins(rig, { hub: false }))
  source = await exampleApp()
  await writeFile(path.join(dockerConfig, 'cosign.pub'), pub)
})
afterAll(async () => {
  for (const d of [dockerConfig, source?.dir]) if (d) await rm(d, { recursive: true, force: true })
})

const cli = (args: string[]): Promise<ExecResult> =>
  run(
    process.execPath,
    [CLI, 'build', ...rigCliFlags(rig), '--build-args', 'VERSION=1.2.3', ...args],
    {
      cwd: source.dir,
      env: rigCliEnv(rig, {
        CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword,
        CONVOX_BUILD_SIGNING_KEY: key
      })
    }
  )

describe('signing in a fan-out', () => {
  it('finish signs what the legs pushed; cosign verifies each digest', async () => {
    const repo = uniqueRepo('signing-fanout', rig)
    const common = [
      '--app',
      'fanout',
      '--registry',
      repo,
      '--registry-username',
      rig.registryUsername,
      '--sign',
      'key'
    ]
    const start = await cli([...common, '--stage', 'start', '--json'])
    expect(start.exitCode).toBe(0)
    const started = JSON.parse(start.stdout) as {
      buildId: string
      matrix: { include: { services: string }[] }
    }
    const legs = await Promise.all(
      started.matrix.include.map(leg =>
        cli([
          ...common,
          '--stage',
          'build',
          '--build-id',
          started.buildId,
          '--services',
          leg.services
        ])
      )
    )
    expect(legs.map(l => l.exitCode)).toEqual(legs.map(() => 0))
    const finish = await cli([
      ...common,
      '--stage',
      'finish',
      '--build-id',
      started.buildId,
      '--json'
    ])
    expect({ code: finish.exitCode, stderr: finish.exitCode === 0 ? '' : finish.stderr }).toEqual({
      code: 0,
      stderr: ''
    })
    const { digests } = JSON.parse(finish.stdout) as { digests: Record<string, string> }
    const distinct = [...new Set(Object.values(digests))]
    expect(distinct.length).toBeGreaterThan(1)
    for (const digest of distinct) {
      const a = await cosign(
        [
          'verify-attestation',
          '--key',
          path.join(dockerConfig, 'cosign.pub'),
          '--type',
          'slsaprovenance1',
          `${repo}@${digest}`
        ],
        dockerConfig,
        rig
      )
      expect(`${a.exitCode} ${a.stderr}`).toMatch(/^0 /)
      const st = firstStatement<{
        predicate: { buildDefinition: { internalParameters: { buildId: string } } }
      }>(a.stdout)
      expect(st.predicate.buildDefinition.internalParameters.buildId).toBe(started.buildId)
    }
    const body = key.split('\n').filter(l => l.length > 20 && !l.startsWith('-----'))
    for (const out of [start, ...legs, finish]) {
      for (const line of body) expect(out.stdout + out.stderr).not.toContain(line)
    }
  })
})
