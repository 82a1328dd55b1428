// The rig works: real BuildKit builds push to the local registry, and docker.io pulls go to
// the Docker Hub stand-in, which needs a login.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  buildctl,
  DEFAULT_RIG_ENV,
  loadRig,
  makeDockerConfig,
  registryCreds,
  rigLogins,
  run,
  skopeo,
  uniqueRepo,
  RIG_NOT_RUNNING,
  type Rig
} from '../helpers/rig.js'

describe('the test rig', () => {
  let rig: Rig
  let context: string
  let withHub: string
  let withoutHub: string

  beforeAll(async () => {
    rig = loadRig()
    context = await mkdtemp(join(tmpdir(), 'rig-smoke-'))
    withHub = await makeDockerConfig(rigLogins(rig))
    withoutHub = await makeDockerConfig(rigLogins(rig, { hub: false }))
  })

  afterAll(async () => {
    for (const dir of [context, withHub, withoutHub]) {
      if (dir) await rm(dir, { recursive: true, force: true })
    }
  })

  /** Fails showing the command's output when it did not succeed. */
  function expectSuccess(r: { exitCode: number; stderr: string }): void {
    expect(r.exitCode === 0 ? '' : `exit ${r.exitCode}: ${r.stderr}`).toBe('')
  }

  async function dockerfile(text: string): Promise<void> {
    await writeFile(join(context, 'Dockerfile'), text)
  }

  function buildctlBuild(image: string, dockerConfig: string, extra: string[] = []) {
    return buildctl(
      [
        'build',
        '--progress=plain',
        '--frontend=dockerfile.v0',
        `--local=context=${context}`,
        `--local=dockerfile=${context}`,
        `--output=type=image,name=${image},push=true`,
        ...extra
      ],
      { rig, dockerConfig }
    )
  }

  async function inspect(image: string): Promise<{ Digest: string; Layers: string[] }> {
    const r = await skopeo(
      ['inspect', '--tls-verify=false', `--creds=${registryCreds(rig)}`, `docker://${image}`],
      { rig }
    )
    expectSuccess(r)
    return JSON.parse(r.stdout) as { Digest: string; Layers: string[] }
  }

  it('builds FROM busybox with buildctl and pushes to the registry', async () => {
    const image = `${uniqueRepo('smoke-buildctl', rig)}:1`
    const marker = `buildctl-${Date.now()}`
    await dockerfile(`FROM busybox\nRUN echo ${marker} > /marker && test -x /bin/sh\n`)
    const metadata = join(context, 'metadata.json')
    const r = await buildctlBuild(image, withHub, [`--metadata-file=${metadata}`])
    expectSuccess(r)
    expect(r.stderr).toContain(`[auth] sharing credentials for ${rig.hubRegistry}`)

    const pushed = JSON.parse(await readFile(metadata, 'utf8')) as Record<string, string>
    const found = await inspect(image)
    expect(found.Digest).toBe(pushed['containerimage.digest'])
    expect(found.Layers).toHaveLength(2) // the busybox layer and the RUN layer
  })

  it('builds with docker buildx (remote builder) and pushes', async () => {
    const image = `${uniqueRepo('smoke-buildx', rig)}:1`
    await dockerfile(`FROM busybox:1.36\nRUN echo buildx-${Date.now()} > /marker\n`)
    const r = await run(
      'docker',
      [
        'buildx',
        'build',
        '--builder',
        rig.buildxBuilder,
        '--progress=plain',
        '--push',
        '-t',
        image,
        context
      ],
      { rig, dockerConfig: withHub }
    )
    expectSuccess(r)
    const found = await inspect(image)
    expect(found.Digest).toMatch(/^sha256:[0-9a-f]{64}$/)
  })

  it('pulls the base image from the Docker Hub stand-in only after login', async () => {
    await dockerfile(`FROM busybox\nRUN echo auth-${Date.now()}\n`)
    const image = `${uniqueRepo('smoke-auth', rig)}:1`

    const denied = await buildctlBuild(image, withoutHub)
    expect(denied.exitCode).not.toBe(0)
    expect(denied.stderr).toContain(`http://${rig.hubRegistry}/v2/library/busybox/manifests/latest`)
    expect(denied.stderr).toContain('401 Unauthorized')

    const anonymous = await skopeo(
      [
        'inspect',
        '--tls-verify=false',
        '--no-creds',
        `docker://${rig.hubRegistry}/library/busybox`
      ],
      { rig }
    )
    expect(anonymous.exitCode).not.toBe(0)
    expect(anonymous.stderr).toMatch(/unauthorized|authentication required/i)

    const allowed = await buildctlBuild(image, withHub)
    expectSuccess(allowed)
    await inspect(image)
  })

  it('fails with a clear message when the rig is not running', async () => {
    expect(RIG_NOT_RUNNING).toBe('the test rig is not running: start it with `npm run rig:up`')
    expect(() => loadRig(join(context, 'no-such-env'))).toThrow(RIG_NOT_RUNNING)

    // An env file left behind by a rig that has stopped: nothing answers there.
    const real = await readFile(DEFAULT_RIG_ENV, 'utf8')
    const noBuildkit = join(context, 'env-no-buildkit')
    await writeFile(
      noBuildkit,
      real.replace(/^BUILDKIT_HOST=.*$/m, `BUILDKIT_HOST=unix://${context}/gone.sock`)
    )
    expect(() => loadRig(noBuildkit)).toThrow(RIG_NOT_RUNNING)
    const noRegistry = join(context, 'env-no-registry')
    await writeFile(noRegistry, real.replace(/^REGISTRY=.*$/m, 'REGISTRY=127.0.0.1:9'))
    expect(() => loadRig(noRegistry)).toThrow(RIG_NOT_RUNNING)
  })
})
