// Remote BuildKit over mutual TLS (scripts/rig/buildkit-tls.sh: two buildkitd on loopback TCP that
// require a client certificate, one advertising linux/arm64): buildctl given the certificates as
// PEM text (written to the run's temp dir, never on an argv, removed at the end), its failures as
// one line naming buildkit-host, and a buildx builder of two remote nodes, one per platform.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { buildPlan, type EngineSettings } from '../../src/core/engine/index.js'
import { spawnExec } from '../../src/core/exec.js'
import { UserError } from '../../src/core/errors.js'
import type { Plan } from '../../src/core/plan.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference, withDigest } from '../../src/core/registry/reference.js'
import type { BuildkitTlsSettings } from '../../src/core/settings.js'
import { tlsDaemons, type TlsDaemons } from '../helpers/buildkit-tls.js'
import { buildId, makePlan, rigEngineSettings, rigRunEnvironment } from '../helpers/engine-plan.js'
import { captureLogger } from '../helpers/logger.js'
import { runWatched, watchProcessTable } from '../helpers/process-table.js'
import {
  CLI,
  loadRig,
  makeDockerConfig,
  rigCliEnv,
  rigEnv,
  rigLogins,
  uniqueRepo,
  type Rig
} from '../helpers/rig.js'
import { buildDir } from '../helpers/dockerfile-build.js'

let rig: Rig
let tls: TlsDaemons
let client: RegistryClient
let root: string
let pem: (name: string) => Promise<string>

beforeAll(async () => {
  rig = loadRig()
  tls = await tlsDaemons()
  pem = name => readFile(path.join(tls.dir, name), 'utf8')
  const logins: Record<string, { username: string; password: string }> = {
    [rig.registry]: { username: rig.registryUsername, password: rig.registryPassword },
    [rig.hubRegistry]: { username: rig.hubUsername, password: rig.hubPassword }
  }
  client = new RegistryClient({ credentials: h => logins[h], dockerHubRegistry: rig.hubRegistry })
  root = await mkdtemp(path.join(tmpdir(), 'mtls-app-'))
  const salt = `${Date.now()}-${Math.random()}`
  await mkdir(path.join(root, 'cross'), { recursive: true })
  // The RUN runs on the build platform: the node's own, so the file says which node made it.
  await writeFile(
    path.join(root, 'cross/Dockerfile'),
    [
      'FROM --platform=$BUILDPLATFORM busybox:multi AS build',
      'ARG BUILDPLATFORM',
      'ARG TARGETPLATFORM',
      `RUN echo "$BUILDPLATFORM for $TARGETPLATFORM ${salt}" > /made`,
      'FROM busybox:multi',
      'COPY --from=build /made /made',
      ''
    ].join('\n')
  )
}, 120_000)

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

function plan(registry: string): Plan {
  return makePlan({
    root,
    registry,
    buildId: buildId(),
    builds: [{ services: ['cross'], context: 'cross' }]
  })
}

async function clientTls(client = 'client', ca = 'ca'): Promise<BuildkitTlsSettings> {
  return {
    ca: await pem(`${ca}.pem`),
    cert: await pem(`${client}.pem`),
    key: await pem(`${client}.key`),
    serverName: ''
  }
}

/** The top index's platforms and, per platform, the digest of its manifest. */
async function platformsOf(ref: string): Promise<string[]> {
  const top = await client.getManifest(parseReference(ref))
  const platforms: string[] = []
  for (const d of top.json.manifests ?? []) {
    await client.getManifest(withDigest(parseReference(ref), d.digest))
    platforms.push(`${d.platform?.os}/${d.platform?.architecture}`)
  }
  return platforms
}

/** The `/made` file of each platform's image, read back through a build. */
async function madeBy(ref: string): Promise<string[]> {
  const out: string[] = []
  for (const platform of await platformsOf(ref)) {
    const dir = await mkdtemp(path.join(tmpdir(), 'mtls-read-'))
    await writeFile(path.join(dir, 'Dockerfile'), `FROM ${ref}\n`)
    const dest = path.join(dir, 'out')
    const r = await buildDir(dir, `type=local,dest=${dest}`, {
      rig,
      dockerConfig: await makeDockerConfig(rigLogins(rig)),
      flags: ['--opt', `platform=${platform}`]
    })
    expect(r.stderr).not.toMatch(/^error/m)
    out.push((await readFile(path.join(dest, 'made'), 'utf8')).split(' ').slice(0, 3).join(' '))
    await rm(dir, { recursive: true, force: true })
  }
  return out
}

describe('buildctl over mutual TLS', () => {
  it('builds through a daemon that requires a client certificate; the key is on no argv, in no log, and gone after', async () => {
    const registry = uniqueRepo('mtls-buildctl', rig)
    const settings: EngineSettings = {
      ...rigEngineSettings(rig, 'buildctl', registry),
      buildkitHost: tls.amd64,
      buildkitTls: { ...(await clientTls()), serverName: tls.serverName },
      platforms: ['linux/amd64', 'linux/arm64']
    }
    const key = settings.buildkitTls!.key
    const keyLines = key.split('\n').filter(l => l.length > 20 && !l.startsWith('-----'))
    const log = captureLogger()
    log.secrets.add(key)
    const tempDir = await mkdtemp(path.join(tmpdir(), 'mtls-run-'))
    const watcher = watchProcessTable(process.pid)
    let cmdlines: string[]
    let result
    try {
      result = await buildPlan(plan(registry), settings, rigRunEnvironment(rig, log, tempDir))
    } finally {
      cmdlines = await watcher.stop()
    }
    // buildctl ran against the TLS daemon with file paths for the certificates.
    const builds = cmdlines.filter(c => c.includes(`--addr ${tls.amd64}`))
    expect(builds.some(c => / --tlskey \S+\/key\.pem build /.test(c))).toBe(true)
    expect(builds.some(c => c.includes(`--tlsservername ${tls.serverName}`))).toBe(true)
    for (const line of keyLines) {
      expect(cmdlines.filter(c => c.includes(line))).toEqual([])
      expect(log.text()).not.toContain(line)
    }
    expect(log.text()).toContain(`buildctl (${tls.amd64}, mutual TLS)`)
    // Both platforms built on the one (amd64) daemon, arm64 from amd64.
    const cross = result.services.find(s => s.name === 'cross')!
    expect(await platformsOf(cross.image)).toEqual(['linux/amd64', 'linux/arm64'])
    expect(await madeBy(cross.image)).toEqual([
      'linux/amd64 for linux/amd64',
      'linux/amd64 for linux/arm64'
    ])
    // The files written for buildctl are gone.
    expect((await readdir(tempDir)).filter(n => n.startsWith('buildkit-tls-'))).toEqual([])
    await rm(tempDir, { recursive: true, force: true })
  }, 600_000)

  const probe = async (addr: string, tlsSettings: BuildkitTlsSettings) => {
    const tempDir = await mkdtemp(path.join(tmpdir(), 'mtls-probe-'))
    const log = captureLogger()
    const settings: EngineSettings = {
      ...rigEngineSettings(rig, 'buildctl', uniqueRepo('mtls-probe', rig)),
      buildkitHost: addr,
      buildkitTls: tlsSettings
    }
    const err = await buildPlan(
      plan(settings.registry),
      settings,
      rigRunEnvironment(rig, log, tempDir)
    ).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(UserError)
    const e = err as UserError
    expect(e.problems).toHaveLength(1)
    expect(e.problems[0]!.input).toBe('buildkit-host')
    expect(e.message).not.toContain('\n')
    expect((await readdir(tempDir)).filter(n => n.startsWith('buildkit-tls-'))).toEqual([])
    await rm(tempDir, { recursive: true, force: true })
    return e.message
  }

  it('a CA that did not sign the daemon is one line naming buildkit-host', async () => {
    const tlsSettings = { ...(await clientTls()), ca: await pem('other-ca.pem') }
    expect(await probe(tls.amd64, tlsSettings)).toMatch(
      /^input "buildkit-host": BuildKit at tcp:\/\/127\.0\.0\.1:\d+ is not reachable: .*certificate signed by unknown authority/
    )
  }, 120_000)

  it('an expired client certificate is one line naming buildkit-host', async () => {
    // Checked before buildctl runs: the daemon's refusal reaches buildctl as `tls: expired
    // certificate` or, by timing under TLS 1.3, as a bare `broken pipe`.
    expect(await probe(tls.amd64, await clientTls('expired-client'))).toMatch(
      /^input "buildkit-host": BuildKit at tcp:\S+ would refuse the client certificate \(buildkit-tls-cert\): it expired on 2020-01-02T00:00:00\.000Z$/
    )
  }, 120_000)

  it('a refused connection is one line naming buildkit-host', async () => {
    // The port below the daemons': nothing listens there (the rig keeps it free).
    const port = Number(new URL(tls.amd64).port) + 9
    expect(await probe(`tcp://127.0.0.1:${port}`, await clientTls())).toMatch(
      /^input "buildkit-host": .*connection refused/
    )
  }, 120_000)

  it('no certificates for a daemon that wants them says which inputs to set', async () => {
    const none = { ca: '', cert: '', key: '', serverName: '' }
    expect(await probe(tls.amd64, none)).toMatch(
      /^input "buildkit-host": .*server preface: EOF" \(does it require mutual TLS\? set buildkit-tls-ca/
    )
  }, 120_000)
})

describe('the CLI over mutual TLS', () => {
  it('takes the PEM texts from its environment: the key on no argv and in no output', async () => {
    const app = await mkdtemp(path.join(tmpdir(), 'mtls-cli-'))
    await writeFile(path.join(app, 'convox.yml'), 'services:\n  cross:\n    build: .\n')
    await writeFile(
      path.join(app, 'Dockerfile'),
      await readFile(path.join(root, 'cross/Dockerfile'), 'utf8')
    )
    const tlsSettings = await clientTls()
    const r = await runWatched(
      [
        CLI,
        'build',
        '--app',
        'mtls',
        '--engine',
        'buildctl',
        '--buildkit-host',
        tls.amd64,
        '--buildkit-tls-server-name',
        tls.serverName,
        '--registry',
        uniqueRepo('mtls-cli', rig),
        '--registry-username',
        rig.registryUsername,
        '--docker-hub-registry',
        rig.hubRegistry,
        '--docker-hub-username',
        rig.hubUsername,
        '--git-sha',
        '0123456789abcdef0123456789abcdef01234567'
      ],
      {
        cwd: app,
        env: rigCliEnv(rig, {
          CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword,
          CONVOX_BUILD_BUILDKIT_TLS_CA: tlsSettings.ca,
          CONVOX_BUILD_BUILDKIT_TLS_CERT: tlsSettings.cert,
          CONVOX_BUILD_BUILDKIT_TLS_KEY: tlsSettings.key
        })
      }
    )
    await rm(app, { recursive: true, force: true })
    expect({ code: r.code, tail: r.stderr.slice(-1500) }).toEqual({
      code: 0,
      tail: expect.anything()
    })
    expect(r.stderr).toContain(`engine: buildctl (${tls.amd64}, mutual TLS)`)
    expect(r.cmdlines.some(c => / --tlskey \S+\/key\.pem build /.test(c))).toBe(true)
    const keyLines = tlsSettings.key
      .split('\n')
      .filter(l => l.length > 20 && !l.startsWith('-----'))
    for (const line of keyLines) {
      expect(r.cmdlines.filter(c => c.includes(line))).toEqual([])
      expect(r.stdout + r.stderr).not.toContain(line)
    }
  }, 600_000)
})

describe('a buildx builder of two remote nodes over mutual TLS, one per platform', () => {
  let buildxConfig: string
  const builder = 'convox-build-mtls'
  const oneNode = 'convox-build-mtls-one'

  beforeAll(async () => {
    buildxConfig = await mkdtemp(path.join(tmpdir(), 'mtls-buildx-'))
    const d = tls.dir
    const opts = `cacert=${d}/ca.pem,cert=${d}/client.pem,key=${d}/client.key,servername=${tls.serverName}`
    const env = { ...rigEnv(rig), BUILDX_CONFIG: buildxConfig }
    // Two nodes, then a builder of the amd64 node alone (for the reuse keys).
    for (const [name, node, addr, platform, append] of [
      [builder, 'amd64', tls.amd64, 'linux/amd64', []],
      [builder, 'arm64', tls.arm64, 'linux/arm64', ['--append']],
      [oneNode, 'amd64', tls.amd64, 'linux/amd64', []]
    ] as const) {
      const r = await spawnExec(
        'docker',
        [
          ...['buildx', 'create', '--name', name, '--node', `${name}-${node}`, ...append],
          ...['--driver', 'remote', '--driver-opt', opts, '--platform', platform, addr]
        ],
        { env }
      )
      if (r.exitCode !== 0) throw new Error(`docker buildx create: ${r.stderr}`)
    }
  }, 120_000)

  afterAll(async () => {
    if (buildxConfig) await rm(buildxConfig, { recursive: true, force: true })
  })

  it("builds each platform on its own node; the builder's platforms are both nodes'", async () => {
    const registry = uniqueRepo('mtls-buildx', rig)
    const settings: EngineSettings = {
      ...rigEngineSettings(rig, 'buildx', registry),
      builder,
      platforms: ['linux/amd64', 'linux/arm64']
    }
    const { result, log } = await buildOn(plan(registry), settings)
    // buildx's progress names each step's platform, not its node: the engine line names the nodes.
    expect(log.text()).toContain(
      `engine: buildx (builder ${builder}, driver remote, nodes ${builder}-amd64 linux/amd64, ${builder}-arm64 linux/arm64)`
    )
    expect(log.text()).toMatch(
      /\[linux\/arm64 build 2\/2\] RUN echo "linux\/arm64 for linux\/arm64/
    )
    expect(result.engine.platforms).toEqual(['linux/amd64', 'linux/arm64'])
    const cross = result.services.find(s => s.name === 'cross')!
    expect(await platformsOf(cross.image)).toEqual(['linux/amd64', 'linux/arm64'])
    // Each made natively: the arm64 image's RUN ran on the arm64 node.
    expect(await madeBy(cross.image)).toEqual([
      'linux/amd64 for linux/amd64',
      'linux/arm64 for linux/arm64'
    ])
  }, 600_000)

  it("without platforms, the reuse key is the builder's own platforms: every node's", async () => {
    const registry = uniqueRepo('mtls-reuse', rig)
    const settings = (name: string): EngineSettings => ({
      ...rigEngineSettings(rig, 'buildx', registry, { reuse: true }),
      builder: name
    })
    const cross = (r: Awaited<ReturnType<typeof buildOn>>) =>
      r.result.services.find(s => s.name === 'cross')!
    const first = await buildOn(plan(registry), settings(builder))
    expect(cross(first).reusedFrom).toBeUndefined()
    // The same builder: reused.
    const again = await buildOn(plan(registry), settings(builder))
    expect(cross(again).reusedFrom).toMatch(/:cross\.[0-9a-f]{32}$/)
    // A builder of its first node alone has other platforms: not reused.
    const one = await buildOn(plan(registry), settings(oneNode))
    expect(one.result.engine.platforms).toEqual(['linux/amd64'])
    expect(cross(one).reusedFrom).toBeUndefined()
    // Without platforms buildx builds the first node's alone (one manifest, not an index): a run
    // naming both platforms must not take it.
    const top = await client.getManifest(parseReference(cross(first).image))
    expect(top.json.manifests).toBeUndefined()
    const both = await buildOn(plan(registry), {
      ...settings(builder),
      platforms: ['linux/amd64', 'linux/arm64']
    })
    expect(cross(both).reusedFrom).toBeUndefined()
    expect(await platformsOf(cross(both).image)).toEqual(['linux/amd64', 'linux/arm64'])
  }, 600_000)

  async function buildOn(p: Plan, settings: EngineSettings) {
    const log = captureLogger()
    const tempDir = await mkdtemp(path.join(tmpdir(), 'mtls-run-'))
    const run = rigRunEnvironment(rig, log, tempDir)
    run.env = { ...run.env, BUILDX_CONFIG: buildxConfig }
    try {
      return { result: await buildPlan(p, settings, run), log }
    } finally {
      await rm(tempDir, { recursive: true, force: true })
    }
  }
})
