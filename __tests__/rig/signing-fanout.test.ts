// Signing in a fan-out through the CLI (dist/cli.js): the key given as CONVOX_BUILD_SIGNING_KEY
// (as every input, and never on argv), the finish stage signs every image the legs pushed, and
// cosign verifies them; the key is in no stage's output.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile, spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { exampleApp, type ExampleApp } from '../helpers/pipeline.js'
import { CLI, loadRig, rigCliEnv, rigCliFlags, uniqueRepo } from '../helpers/rig.js'

const rig = loadRig()
const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'prime256v1',
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' }
})
let dir: string
let source: ExampleApp

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'signing-fanout-'))
  source = await exampleApp()
  await writeFile(path.join(dir, 'cosign.pub'), publicKey)
  const auth = Buffer.from(`${rig.registryUsername}:${rig.registryPassword}`).toString('base64')
  await writeFile(
    path.join(dir, 'config.json'),
    JSON.stringify({ auths: { [rig.registry]: { auth } } })
  )
})
afterAll(async () => {
  for (const d of [dir, source?.dir]) if (d) await rm(d, { recursive: true, force: true })
})

async function cli(
  args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    [CLI, 'build', ...rigCliFlags(rig), '--build-args', 'VERSION=1.2.3', ...args],
    {
      cwd: source.dir,
      env: rigCliEnv(rig, {
        CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword,
        CONVOX_BUILD_SIGNING_KEY: privateKey
      }),
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => void (stdout += b.toString()))
  child.stderr.on('data', (b: Buffer) => void (stderr += b.toString()))
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  return { code, stdout, stderr }
}

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
    expect(start.code).toBe(0)
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
    expect(legs.map(l => l.code)).toEqual(legs.map(() => 0))
    const finish = await cli([
      ...common,
      '--stage',
      'finish',
      '--build-id',
      started.buildId,
      '--json'
    ])
    expect({ code: finish.code, stderr: finish.code === 0 ? '' : finish.stderr }).toEqual({
      code: 0,
      stderr: ''
    })
    const digests = [
      ...new Set(
        Object.values((JSON.parse(finish.stdout) as { digests: Record<string, string> }).digests)
      )
    ]
    expect(digests.length).toBeGreaterThan(1)
    for (const digest of digests) {
      const { stdout } = await promisify(execFile)(
        path.join(rig.rigBin, 'cosign'),
        [
          'verify-attestation',
          '--key',
          path.join(dir, 'cosign.pub'),
          '--type',
          'slsaprovenance1',
          '--allow-insecure-registry',
          '--allow-http-registry',
          '--insecure-ignore-tlog',
          `${repo}@${digest}`
        ],
        { env: { ...process.env, DOCKER_CONFIG: dir }, maxBuffer: 16 * 1024 * 1024 }
      )
      const st = JSON.parse(
        Buffer.from(
          (JSON.parse(stdout.split('\n')[0]!) as { payload: string }).payload,
          'base64'
        ).toString()
      ) as {
        predicate: { buildDefinition: { internalParameters: { buildId: string } } }
      }
      expect(st.predicate.buildDefinition.internalParameters.buildId).toBe(started.buildId)
    }
    const body = privateKey.split('\n').filter(l => l.length > 20 && !l.startsWith('-----'))
    for (const out of [start, ...legs, finish]) {
      for (const line of body) expect(out.stdout + out.stderr).not.toContain(line)
    }
  })
})
