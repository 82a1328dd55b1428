// Every kind of secret through real builds on both engines: the push registry's and Docker
// Hub's passwords, BUILD_AUTH (as a build arg in a build stage and as a BuildKit secret), a
// BuildKit secret of the user's and the rack URL's password. While the build runs the process
// table is read every few milliseconds; afterwards the log, the JSON result, the export, the
// action's outputs, state and summary, and every blob and config pushed to the repository are
// searched for each secret, as given and encoded.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { isIndexMediaType, RegistryClient } from '../../src/core/registry/client.js'
import { parseReference, withDigest } from '../../src/core/registry/reference.js'
import { runAction, shownLines } from '../helpers/action-runner.js'
import { EXAMPLES } from '../helpers/engine-plan.js'
import { runWatched, type WatchedRun } from '../helpers/process-table.js'
import { startRackServer, type RackServer } from '../helpers/rack-server.js'
import {
  CLI,
  loadRig,
  REPO_ROOT,
  rigCliEnv,
  rigCliFlags,
  rigEnv,
  rigLogins,
  uniqueRepo
} from '../helpers/rig.js'

const rig = loadRig()
const USER_SECRET = 'npm-T0ken-9f8e7d6c5b4a39281706'
let work: string
let rack: RackServer

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'secrets-test-'))
  rack = await startRackServer({
    apps: ['secrets'],
    password: 'rack-Passw0rd-0a1b2c3d4e5f60718293',
    registry: { host: rig.registry, username: rig.registryUsername, password: rig.registryPassword }
  })
})

afterAll(async () => {
  await rack?.close()
  if (work) await rm(work, { recursive: true, force: true })
})

/** Every secret of a run, with the forms it could be written in. */
function secretForms(secrets: string[]): string[] {
  const forms = new Set<string>()
  for (const s of secrets) {
    forms.add(s)
    forms.add(Buffer.from(s).toString('base64').replace(/=+$/, ''))
    forms.add(encodeURIComponent(s))
    forms.add(JSON.stringify(s).slice(1, -1))
  }
  return [...forms].filter(f => f.length >= 8)
}

/**
 * What of `forms`, or of any 12 characters in a row of a secret, `text` contains. A URL counts
 * whole; only its password counts piece by piece (its host is no secret).
 */
function leaksIn(text: string, secrets: string[]): string[] {
  const found = secretForms(secrets).filter(f => text.includes(f))
  for (const s of secrets.map(s => (URL.canParse(s) ? new URL(s).password : s))) {
    for (let i = 0; i + 12 <= s.length; i++) {
      const piece = s.slice(i, i + 12)
      if (text.includes(piece)) {
        found.push(`…${piece}…`)
        break
      }
    }
  }
  return found
}

/** Every manifest, config and layer (gunzipped) of a repository, as text to search. */
async function repositoryContents(repository: string): Promise<string> {
  const logins = rigLogins(rig)
  const client = new RegistryClient({ credentials: host => logins[host] })
  const [registry, ...rest] = repository.split('/')
  const repo = rest.join('/')
  const auth = `Basic ${Buffer.from(`${rig.registryUsername}:${rig.registryPassword}`).toString('base64')}`
  const res = await fetch(`http://${registry}/v2/${repo}/tags/list`, {
    headers: { authorization: auth }
  })
  const { tags } = (await res.json()) as { tags: string[] }
  expect(tags.length).toBeGreaterThan(0)
  const parts: string[] = []
  const seen = new Set<string>()
  const name = { registry: registry!, repository: repo }
  const visit = async (reference: string): Promise<void> => {
    if (seen.has(reference)) return
    seen.add(reference)
    const ref = reference.startsWith('sha256:')
      ? withDigest(name, reference)
      : parseReference(`${repository}:${reference}`)
    const m = await client.getManifest(ref)
    parts.push(m.bytes.toString('utf8'))
    if (isIndexMediaType(m.mediaType)) {
      for (const child of m.json.manifests ?? []) await visit(child.digest)
      return
    }
    for (const blob of [m.json.config, ...(m.json.layers ?? [])]) {
      if (!blob || seen.has(blob.digest)) continue
      seen.add(blob.digest)
      const { stream } = await client.getBlob(name, blob.digest)
      const chunks: Buffer[] = []
      for await (const c of stream) chunks.push(c as Buffer)
      const data = Buffer.concat(chunks)
      parts.push((blob.mediaType.includes('gzip') ? gunzipSync(data) : data).toString('latin1'))
    }
  }
  for (const tag of tags) await visit(tag)
  return parts.join('\n')
}

/** The example app with a web Dockerfile that uses every secret and sleeps while ps is read. */
async function secretApp(salt: string): Promise<string> {
  const app = await mkdtemp(path.join(work, 'app-'))
  await cp(EXAMPLES, app, { recursive: true })
  await writeFile(
    path.join(app, 'Dockerfile'),
    [
      'FROM busybox AS fetch',
      'ARG BUILD_AUTH',
      // BuildKit names this step with BUILD_AUTH expanded: the name is long, the log cuts it.
      `RUN --mount=type=secret,id=npm,env=NPM printf %s "$BUILD_AUTH" | wc -c > /auth-len && test -n "$NPM" && echo ${salt} && sleep 2`,
      'FROM busybox',
      'ARG VERSION',
      'COPY --from=fetch /auth-len /auth-len',
      'RUN --mount=type=secret,id=BUILD_AUTH,env=BUILD_AUTH test -n "$BUILD_AUTH" && sleep 2',
      ''
    ].join('\n')
  )
  return app
}

describe.each(['buildctl', 'buildx'] as const)('every secret, %s engine', engine => {
  const repo = uniqueRepo(`secrets-${engine}`, rig)
  let app: string
  let outcome: WatchedRun
  const exportFile = () => path.join(app, 'out', 'build.tgz')
  const secrets = () => [
    rig.registryPassword,
    rig.hubPassword,
    USER_SECRET,
    rack.password,
    rack.rackUrl
  ]

  beforeAll(async () => {
    app = await secretApp(`${engine}-${Date.now()}`)
    outcome = await runWatched(
      [
        CLI,
        'build',
        '--json',
        '--app',
        'secrets',
        '--engine',
        engine,
        ...(engine === 'buildx' ? ['--builder', rig.buildxBuilder] : []),
        '--buildkit-host',
        rig.buildkitHost,
        '--registry',
        repo,
        '--registry-username',
        rig.registryUsername,
        '--docker-hub-registry',
        rig.hubRegistry,
        '--docker-hub-username',
        rig.hubUsername,
        '--git-sha',
        '0123456789abcdef0123456789abcdef01234567',
        '--build-args',
        'BUILD_AUTH',
        '--build-args',
        'VERSION=1',
        '--export',
        'out/build.tgz'
      ],
      {
        cwd: app,
        env: {
          ...rigEnv(rig),
          CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword,
          CONVOX_BUILD_DOCKER_HUB_PASSWORD: rig.hubPassword,
          CONVOX_BUILD_SECRETS: `npm=${USER_SECRET}`,
          RACK_URL: rack.rackUrl
        }
      }
    )
  })

  it('builds, registers and exports', () => {
    expect({ code: outcome.code, tail: outcome.stderr.slice(-2000) }).toEqual({
      code: 0,
      tail: expect.any(String)
    })
    expect(JSON.parse(outcome.stdout).releaseId).toMatch(/^R[A-Z]{10}$/)
  })

  it('puts no secret on any command line while it runs', () => {
    expect(
      outcome.cmdlines.some(c => c.includes(engine === 'buildx' ? 'buildx' : 'buildctl'))
    ).toBe(true)
    expect(outcome.cmdlines.flatMap(c => leaksIn(c, secrets()))).toEqual([])
  })

  it('writes no secret, nor 12 characters of one, to its log or result', () => {
    expect(leaksIn(outcome.stderr, secrets())).toEqual([])
    expect(leaksIn(outcome.stdout, secrets())).toEqual([])
    // The long step line with BUILD_AUTH expanded was shown, redacted before it was cut.
    expect(outcome.stderr).toMatch(/\[web, worker\] \[fetch 2\/2\] RUN --mount=type=secret,id=npm/)
  })

  it('leaves no secret in the export, nor in any blob or config of the repository', async () => {
    const tarball = gunzipSync(await readFile(exportFile())).toString('latin1')
    expect(leaksIn(tarball, secrets())).toEqual([])
    expect(leaksIn(await repositoryContents(repo), secrets())).toEqual([])
    // nor on the rack: its stored log and records
    const stored = [...rack.objects.values()].map(b => b.toString()).join('\n')
    const records = JSON.stringify([...rack.builds.values(), ...rack.releases.values()])
    expect(leaksIn(stored + records, secrets())).toEqual([])
  })
})

describe('registry credentials go to their registry only', () => {
  /** A registry stand-in that records every request's Authorization header and answers 401. */
  async function captureServer() {
    const seen: { url: string; authorization: string }[] = []
    const server = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization ?? '' })
      res.writeHead(401, { 'www-authenticate': 'Basic realm="capture"' })
      res.end()
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
    return { host, seen, close: () => new Promise(resolve => server.close(resolve)) }
  }

  it.each(['127.0.0.1:5050', 'ghcr.io', 'acme/myapp'])(
    'a registry without host and path (%s) is refused before any request',
    async registry => {
      const hub = await captureServer()
      const app = await mkdtemp(path.join(work, 'refused-'))
      await mkdir(app, { recursive: true })
      await cp(EXAMPLES, app, { recursive: true })
      const r = await runWatched(
        [
          CLI,
          'build',
          '--app',
          'refused',
          '--registry',
          registry,
          '--registry-username',
          'ci',
          '--docker-hub-registry',
          hub.host,
          '--docker-hub-username',
          'hub',
          '--git-sha',
          '0123456789abcdef0123456789abcdef01234567'
        ],
        {
          cwd: app,
          env: {
            ...rigEnv(rig),
            CONVOX_BUILD_REGISTRY_PASSWORD: 'registry-Pw-never-sent-0987654321',
            CONVOX_BUILD_DOCKER_HUB_PASSWORD: 'hub-Pw-000111222333444555'
          }
        }
      )
      await hub.close()
      expect(r.code).toBe(1)
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          /^--registry: "[^"]+" (has no registry host|is a registry without a repository path)/
        )
      ])
      expect(hub.seen).toEqual([])
    }
  )
})

describe('every secret through the action (buildctl)', () => {
  it('leaves none in the log, the outputs, the state or the summary', async () => {
    const app = await secretApp(`action-${Date.now()}`)
    const repo = uniqueRepo('secrets-action', rig)
    const inputs = {
      app: 'secrets',
      engine: 'buildctl',
      'buildkit-host': rig.buildkitHost,
      registry: repo,
      'registry-username': rig.registryUsername,
      'registry-password': rig.registryPassword,
      'docker-hub-registry': rig.hubRegistry,
      'docker-hub-username': rig.hubUsername,
      'docker-hub-password': rig.hubPassword,
      'build-args': 'BUILD_AUTH\nVERSION=1',
      secrets: `npm=${USER_SECRET}`,
      'rack-url': rack.rackUrl,
      export: 'out/build.tgz'
    }
    const r = await runAction('index.js', inputs, {
      dist: path.join(REPO_ROOT, 'dist'),
      work,
      cwd: app,
      env: { PATH: rigEnv(rig).PATH, BUILDX_CONFIG: rig.buildxConfig },
      event: { head_commit: { message: 'secrets' } },
      timeoutMs: 240_000
    })
    expect({ status: r.status, tail: r.stdout.slice(-1500) }).toEqual({
      status: 0,
      tail: expect.any(String)
    })
    const secrets = [rig.registryPassword, rig.hubPassword, USER_SECRET, rack.password]
    expect(leaksIn(shownLines(r.stdout).join('\n'), secrets)).toEqual([])
    expect(leaksIn(JSON.stringify(r.outputs), secrets)).toEqual([])
    expect(leaksIn(JSON.stringify(r.state), secrets)).toEqual([])
    expect(leaksIn(r.summary, secrets)).toEqual([])
    expect(r.outputs['release-id']).toMatch(/^R[A-Z]{10}$/)
    // and the runner was told to mask each (it hides them wherever they would appear)
    for (const s of secrets) expect(r.stdout).toContain(`::add-mask::${s}`)
  })
})

describe('secrets kept apart, and what the search finds', () => {
  const cli = (app: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    runWatched(
      [
        CLI,
        'build',
        '--app',
        'secrets',
        ...rigCliFlags(rig),
        '--git-sha',
        '0123456789abcdef0123456789abcdef01234567',
        ...args
      ],
      {
        cwd: app,
        env: rigCliEnv(rig, env)
      }
    )

  async function oneService(dockerfile: string): Promise<string> {
    const app = await mkdtemp(path.join(work, 'one-'))
    await writeFile(path.join(app, 'convox.yml'), 'services:\n  web:\n    build: .\n')
    await writeFile(path.join(app, 'Dockerfile'), dockerfile)
    return app
  }

  it('gives the ids a-b, a_b and a.b each its own value', async () => {
    const app = await oneService(
      [
        'FROM busybox',
        `RUN --mount=type=secret,id=a-b,env=X --mount=type=secret,id=a_b,env=Y --mount=type=secret,id=a.b,env=Z test "$X-$Y-$Z" = "one-two-three" && echo ${Date.now()}`,
        ''
      ].join('\n')
    )
    const r = await cli(app, ['--cache', 'none'], {
      CONVOX_BUILD_SECRETS: 'a-b=one\na_b=two\na.b=three'
    })
    expect({ code: r.code, tail: r.code === 0 ? '' : r.stderr.slice(-800) }).toEqual({
      code: 0,
      tail: ''
    })
  })

  it('finds BUILD_AUTH in the pushed history when build-auth-in-image keeps the rack way', async () => {
    const app = await oneService(`FROM busybox\nARG BUILD_AUTH\nRUN echo ${Date.now()}\n`)
    const repo = uniqueRepo('secrets-in-image', rig)
    const env = { CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword }
    const args = ['--registry', repo, '--registry-username', rig.registryUsername]
    const refused = await cli(app, [...args, '--build-args', 'BUILD_AUTH'], env)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^Dockerfile:2:1: BUILD_AUTH would be recorded in the history/m)
    const kept = await cli(
      app,
      [...args, '--build-args', 'BUILD_AUTH', '--build-auth-in-image', '--reuse=false'],
      env
    )
    expect(kept.code).toBe(0)
    expect(kept.stderr).toMatch(
      /warning: Dockerfile:2:1: BUILD_AUTH is recorded in the image history/
    )
    // The search that finds nothing elsewhere finds it here: the history holds the passwords.
    expect(leaksIn(await repositoryContents(repo), [rig.registryPassword])).not.toEqual([])
    expect(leaksIn(kept.stderr, [rig.registryPassword])).toEqual([])
  })
})
