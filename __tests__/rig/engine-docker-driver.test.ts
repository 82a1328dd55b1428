// buildx's `docker` driver (the rig's dockerd, BuildKit built into the engine) cannot export a
// registry cache: the build falls back to the inline cache, warns once, and still pushes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan, type EngineSettings } from '../../src/core/engine/index.js'
import { parseBuildxDriver } from '../../src/core/engine/select.js'
import { spawnExec } from '../../src/core/exec.js'
import type { Logger } from '../../src/core/log.js'
import { buildDir } from '../helpers/dockerfile-build.js'
import { examplePlan, rigEngineSettings } from '../helpers/engine-plan.js'
import {
  DEFAULT_RIG_ENV,
  loadRig,
  makeDockerConfig,
  parseEnvFile,
  REPO_ROOT,
  registryCreds,
  rigEnv,
  rigLogins,
  run,
  skopeo,
  uniqueRepo,
  type Rig
} from '../helpers/rig.js'
import { Redactor } from '../../src/core/secrets.js'

let rig: Rig

/** The rig's dockerd answers at DOCKER_HOST (from .rig/env). */
function dockerAnswers(): boolean {
  const host = parseEnvFile(readFileSync(DEFAULT_RIG_ENV, 'utf8')).DOCKER_HOST
  if (!host) return false
  const r = spawnSync('docker', ['--host', host, 'version', '--format', '{{.Server.Version}}'], {
    encoding: 'utf8',
    timeout: 20_000
  })
  return r.status === 0
}

beforeAll(async () => {
  if (!dockerAnswers()) {
    // Starts (and leaves running) the rig's optional dockerd.
    const up = spawnSync('bash', [path.join(REPO_ROOT, 'scripts/rig/up.sh')], {
      cwd: REPO_ROOT,
      env: { ...process.env, RIG_DOCKER: '1' },
      encoding: 'utf8',
      timeout: 240_000
    })
    if (up.status !== 0) throw new Error(`RIG_DOCKER=1 up.sh failed:\n${up.stdout}${up.stderr}`)
  }
  rig = loadRig()
  if (!rig.dockerHost) throw new Error('.rig/env has no DOCKER_HOST after RIG_DOCKER=1 up.sh')
  // Without a local busybox the build must pull it from the hub stand-in with the login.
  await run('docker', ['image', 'rm', 'busybox:latest'], { rig })
})

// The docker driver also keeps every pushed tag in dockerd's image store: remove ours.
const localTags: string[] = []
afterAll(async () => {
  if (localTags.length > 0) await run('docker', ['image', 'rm', ...localTags], { rig })
})

function capture(): { logger: Logger; text: () => string } {
  const out: string[] = []
  const logger: Logger = {
    info: m => out.push(m),
    debug: m => out.push(m),
    warning: m => out.push(`warning: ${m}`),
    mask: () => undefined,
    group: async (t, fn) => {
      out.push(`group: ${t}`)
      return fn()
    }
  }
  return { logger, text: () => out.join('\n') }
}

/** A file of a pushed image, read by building `FROM image` into a local directory. */
async function readFromImage(image: string, file: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'engine-docker-read-'))
  await writeFile(path.join(dir, 'Dockerfile'), `FROM ${image}\n`)
  const r = await buildDir(dir, `type=local,dest=${dir}/out`, {
    rig,
    dockerConfig: await makeDockerConfig(rigLogins(rig))
  })
  expect(r.exitCode).toBe(0)
  return readFile(path.join(dir, 'out', file), 'utf8')
}

async function registryJson(image: string, what: '--raw' | '--config'): Promise<string> {
  const args = ['inspect', '--tls-verify=false', '--creds', registryCreds(rig), '--raw']
  if (what === '--config') args.push('--config')
  const r = await skopeo([...args, `docker://${image}`], { rig })
  expect(r.stderr).toBe('')
  expect(r.exitCode).toBe(0)
  return r.stdout
}

describe('buildx with the docker driver (the rig dockerd)', () => {
  it('has the docker driver on the default builder', async () => {
    const r = await run('docker', ['buildx', 'inspect', 'default'], { rig })
    expect(r.exitCode).toBe(0)
    expect(parseBuildxDriver(r.stdout)).toBe('docker')
  })

  it('builds the example app with the inline cache instead of the registry cache, and pushes', async () => {
    const registry = uniqueRepo('engine-docker-driver', rig)
    const plan = examplePlan(registry)
    const settings: EngineSettings = rigEngineSettings(rig, 'buildx', registry, {
      builder: 'default',
      buildkitHost: ''
    })
    const tempDir = await mkdtemp(path.join(tmpdir(), 'engine-docker-driver-'))
    const env = rigEnv(rig)
    expect(env.DOCKER_HOST).toBe(rig.dockerHost)
    const c = capture()
    const r = await buildPlan(plan, settings, {
      env,
      logger: c.logger,
      secrets: new Redactor(),
      exec: spawnExec,
      github: false,
      tempDir,
      localCacheDir: path.join(tempDir, 'cache')
    })

    localTags.push(...r.services.filter(s => s.build !== null).map(s => s.image))
    expect(r.engine.name).toBe('buildx')
    expect(r.engine.driver).toBe('docker')
    // Warned once, in the result and in the log.
    const fallback = /cannot export the "registry" cache: using the inline cache instead/
    expect(r.warnings.filter(w => fallback.test(w))).toHaveLength(1)
    expect(r.warnings.find(w => fallback.test(w))).toContain('driver docker')
    const warned = c
      .text()
      .split('\n')
      .filter(l => l.startsWith('warning:') && fallback.test(l))
    expect(warned).toHaveLength(1)

    // Pushed: each reported digest is the registry's manifest digest.
    expect(r.builds).toHaveLength(2)
    const by = Object.fromEntries(r.services.map(s => [s.name, s]))
    for (const name of ['web', 'worker', 'api', 'cache']) {
      const s = by[name]!
      expect(s.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
      const raw = await registryJson(s.image, '--raw')
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(s.digest)
    }
    expect(by.worker!.digest).toBe(by.web!.digest)

    // The inline cache is in the image configs; no registry cache was written.
    for (const name of ['web', 'api']) {
      const config = JSON.parse(await registryJson(by[name]!.image, '--config')) as Record<
        string,
        unknown
      >
      expect(typeof config['moby.buildkit.cache.v0']).toBe('string')
    }
    const tags = await skopeo(
      ['list-tags', '--tls-verify=false', '--creds', registryCreds(rig), `docker://${registry}`],
      { rig }
    )
    expect(tags.exitCode).toBe(0)
    const tagList = (JSON.parse(tags.stdout) as { Tags: string[] }).Tags.sort()
    // The images, and the stable tags their inline cache is found by: no `.buildcache`.
    expect(tagList).toEqual(
      [
        ...['api', 'cache', 'web', 'worker'].map(s => `${s}.${plan.buildId}`),
        'api.inlinecache',
        'web.inlinecache'
      ].sort()
    )

    // The build args went through dockerd's BuildKit.
    expect(await readFromImage(by.web!.image, 'srv/build-info.txt')).toBe(
      `BUILD_APP=example\nBUILD_GIT_SHA=0123456789abcdef0123456789abcdef01234567\nBUILD_ID=${plan.buildId}\nVERSION=1.2.3\n`
    )
  })
})
