import { describe, expect, it } from '@jest/globals'
import { UserError, type Problem } from '../../src/core/errors.js'
import { Redactor } from '../../src/core/secrets.js'
import { rackClientOptions } from '../../src/core/rack/client.js'
import { addSettingsSecrets, readSettings, type Settings } from '../../src/core/settings.js'

const CWD = '/work/repo'

function settings(inputs: Record<string, string>, env: NodeJS.ProcessEnv = {}): Settings {
  return readSettings(name => inputs[name] ?? '', { env, cwd: CWD })
}

function problems(inputs: Record<string, string>, env: NodeJS.ProcessEnv = {}): Problem[] {
  try {
    settings(inputs, env)
  } catch (e) {
    expect(e).toBeInstanceOf(UserError)
    return (e as UserError).problems
  }
  throw new Error('expected a UserError')
}

describe('readSettings', () => {
  it('applies the defaults of action-interface.md', () => {
    const s = settings({}, { GITHUB_REPOSITORY: 'acme/Shop_Front', BUILDKIT_HOST: 'tcp://bk:1234' })
    expect(s).toMatchObject({
      app: 'shop-front',
      manifest: 'convox.yml',
      workingDirectory: CWD,
      push: false,
      cache: 'auto',
      engine: 'auto',
      dockerHubRegistry: 'docker.io',
      buildkitHost: 'tcp://bk:1234',
      convoxHost: 'console.convox.com',
      dryRun: false,
      summary: true
    })
    expect(s.concurrency).toBeGreaterThanOrEqual(1)
  })

  it('pushes by default once a registry is set, and resolves paths from working-directory', () => {
    const s = settings({
      app: 'shop',
      registry: 'ghcr.io/acme/shop/',
      'working-directory': 'apps/shop',
      export: 'out/build.tgz'
    })
    expect(s.registry).toBe('ghcr.io/acme/shop')
    expect(s.push).toBe(true)
    expect(s.workingDirectory).toBe('/work/repo/apps/shop')
    expect(s.export).toBe('/work/repo/apps/shop/out/build.tgz')
  })

  it('reads the Sigstore instance of keyless signing: the public-good one by default, none as no log', () => {
    expect(settings({ app: 'shop' }).sigstore).toEqual({
      fulcioUrl: 'https://fulcio.sigstore.dev',
      rekorUrl: 'https://rekor.sigstore.dev',
      tsaUrl: '',
      trustedRoot: ''
    })
    const own = settings({
      app: 'shop',
      sign: 'keyless',
      'sigstore-fulcio-url': 'https://fulcio.example.com',
      'sigstore-rekor-url': 'None',
      'sigstore-tsa-url': 'https://tsa.example.com',
      'sigstore-trusted-root': 'sigstore/trusted_root.json'
    })
    expect(own.sign).toBe('keyless')
    expect(own.sigstore).toEqual({
      fulcioUrl: 'https://fulcio.example.com',
      rekorUrl: '',
      tsaUrl: 'https://tsa.example.com',
      trustedRoot: '/work/repo/sigstore/trusted_root.json'
    })
    expect(problems({ app: 'shop', 'sigstore-rekor-url': 'none' })).toEqual([
      {
        input: 'sigstore-rekor-url',
        message:
          'sigstore-rekor-url: none needs sigstore-tsa-url (a keyless signature is logged or timestamped)'
      }
    ])
    expect(settings({ app: 'shop', sign: 'off', 'sigstore-rekor-url': 'none' }).sign).toBe('off')
  })

  it('keeps build-args lines verbatim after the name, with their line numbers', () => {
    const s = settings({ app: 'shop', 'build-args': '  BUILD_APP\n\nGREETING=a b = c  \nEMPTY=' })
    expect(s.buildArgs).toEqual(['BUILD_APP', '', 'GREETING=a b = c  ', 'EMPTY='])
  })

  it('parses secrets as id=value and lists every secret value for masking', () => {
    const s = settings({
      app: 'shop',
      registry: 'r.example/shop',
      'registry-username': 'u',
      'registry-password': 'p4ss',
      secrets: 'npm=tok=en\n\nssh=key',
      'rack-url': 'https://convox:r%40ck@api.example.com'
    })
    expect(s.secrets).toEqual([
      { id: 'npm', value: 'tok=en' },
      { id: 'ssh', value: 'key' }
    ])
    const secrets = new Redactor()
    addSettingsSecrets(secrets, s)
    expect(secrets.redact('key p4ss r@ck r%40ck tok=en')).toBe('*** *** *** *** ***')
  })

  it('reports every bad input at once, naming each', () => {
    const found = problems({
      app: 'Shop!',
      development: 'maybe',
      cache: 'sometimes',
      concurrency: '0',
      push: 'true',
      'registry-username': 'u',
      'docker-hub-password': 'p',
      secrets: 'no-equals-sign',
      'upload-artifact': 'build'
    })
    expect(found.map(p => p.input).sort()).toEqual(
      [
        'development',
        'cache',
        'secrets',
        'concurrency',
        'app',
        'push',
        'registry-password',
        'docker-hub-username',
        'upload-artifact'
      ].sort()
    )
  })

  it.each([
    [{ registry: 'ghcr.io/acme/shop:latest' }, 'registry', 'without tag or digest'],
    [{ import: 'b.tgz', export: 'c.tgz' }, 'import', 'cannot be used together'],
    [{ import: 'b.tgz', 'dry-run': 'true' }, 'dry-run', 'nothing to plan']
  ])('rejects %j', (inputs, input, message) => {
    const found = problems({ app: 'shop', ...inputs })
    expect(found).toEqual([{ input, message: expect.stringContaining(message) }])
  })

  // convox/action-login writes CONVOX_HOST and CONVOX_PASSWORD (a deploy key) to GITHUB_ENV,
  // convox/action-build sets CONVOX_RACK; the convox CLI reads them in pkg/rack/console.go
  // (currentConsole, currentPassword) and pkg/rack/rack.go (currentRack), and RACK_URL first of
  // all (Current: a direct rack).
  const login = {
    CONVOX_HOST: 'console.acme.example',
    CONVOX_PASSWORD: 'deploy-key-1',
    CONVOX_RACK: 'acme/production',
    CONVOX_APP: 'shop'
  }

  it("reads Convox's own names: Console mode from CONVOX_HOST and CONVOX_PASSWORD", () => {
    const s = settings({}, login)
    expect(s).toMatchObject({
      app: 'shop',
      rack: 'acme/production',
      convoxHost: 'console.acme.example',
      convoxPassword: 'deploy-key-1'
    })
    expect(rackClientOptions(s)).toMatchObject({
      convoxHost: 'console.acme.example',
      convoxPassword: 'deploy-key-1',
      rack: 'acme/production'
    })
    const secrets = new Redactor()
    addSettingsSecrets(secrets, s)
    expect(secrets.redact('key deploy-key-1')).toBe('key ***')
  })

  it('CONVOX_HOST defaults to console.convox.com, as action-login does', () => {
    expect(settings({}, { CONVOX_PASSWORD: 'k3y' }).convoxHost).toBe('console.convox.com')
  })

  it('RACK_URL, a direct rack, wins over the Console login', () => {
    const s = settings({}, { ...login, RACK_URL: 'https://convox:pw@api.rack.example' })
    expect(rackClientOptions(s)).toMatchObject({ rackUrl: 'https://convox:pw@api.rack.example' })
    expect(rackClientOptions(s)).not.toHaveProperty('convoxPassword')
  })

  it('inputs win over the Convox names', () => {
    const s = settings(
      { app: 'web', rack: 'acme/staging', 'convox-host': 'c.example', 'convox-password': 'in' },
      login
    )
    expect(s).toMatchObject({
      app: 'web',
      rack: 'acme/staging',
      convoxHost: 'c.example',
      convoxPassword: 'in'
    })
  })

  it('CONVOX_APP is checked as an app name', () => {
    expect(problems({}, { CONVOX_APP: 'Not An App' })).toEqual([
      { input: 'app', message: expect.stringContaining('"Not An App" is not a Convox app name') }
    ])
  })
})

describe('stage settings', () => {
  const leg = (value: string) =>
    settings({ app: 'shop', stage: 'build', 'build-id': 'BABCDEFGHIJ', leg: value })

  it('reads leg as N/M, a parallel job of M', () => {
    expect(leg('2/4').leg).toEqual({ index: 2, total: 4 })
    expect(leg(' 1 / 1 ').leg).toEqual({ index: 1, total: 1 })
  })

  it.each(['0/3', '4/3', 'two', '1'])('refuses leg %s, naming the input', value => {
    expect(
      problems({ app: 'shop', stage: 'build', 'build-id': 'BABCDEFGHIJ', leg: value })
    ).toEqual([expect.objectContaining({ input: 'leg' })])
  })

  it('says what each stage needs', () => {
    expect(problems({ app: 'shop', stage: 'build' }).map(p => p.input)).toEqual([
      'build-id',
      'services'
    ])
    expect(
      problems({ app: 'shop', stage: 'finish', 'build-id': 'Bnot' }).map(p => p.input)
    ).toEqual(['build-id'])
    expect(
      problems({
        app: 'shop',
        stage: 'build',
        'build-id': 'BABCDEFGHIJ',
        services: 'web',
        leg: '1/2'
      }).map(p => p.input)
    ).toEqual(['leg'])
    expect(problems({ app: 'shop', 'build-id': 'BABCDEFGHIJ' }).map(p => p.input)).toEqual([
      'build-id'
    ])
    expect(problems({ app: 'shop', services: 'web' }).map(p => p.input)).toEqual(['services'])
  })
})

describe('legs per platform settings', () => {
  const leg = { app: 'shop', stage: 'build', 'build-id': 'BABCDEFGHIJ', services: 'web' }

  it('splits by services unless legs: platforms is given', () => {
    expect(settings({}).legs).toBe('services')
    expect(settings({ legs: 'Platforms' }).legs).toBe('platforms')
    expect(problems({ app: 'shop', legs: 'nodes' }).map(p => p.input)).toEqual(['legs'])
  })

  it('reads platform-runners as platform: runner lines, platforms normalised', () => {
    const s = settings({
      'platform-runners': 'linux/arm64: ubuntu-24.04-arm\n\n  amd64 :ubuntu-24.04 '
    })
    expect(s.platformRunners).toEqual({
      'linux/arm64': 'ubuntu-24.04-arm',
      'linux/amd64': 'ubuntu-24.04'
    })
  })

  it('refuses a bad platform-runners line, naming the input and the line', () => {
    expect(
      problems({
        'platform-runners': 'linux/arm64: arm\nlinux/arm64: other\nnonsense\nlinux/amd64: a b'
      })
    ).toEqual([
      { input: 'platform-runners', line: 2, message: 'linux/arm64 is given twice' },
      expect.objectContaining({ input: 'platform-runners', line: 3 }),
      expect.objectContaining({ input: 'platform-runners', line: 4 })
    ])
  })

  it('a platform leg builds exactly one platform, named with its services', () => {
    expect(settings({ ...leg, legs: 'platforms', platforms: 'linux/arm64' }).platforms).toEqual([
      'linux/arm64'
    ])
    expect(
      problems({ ...leg, legs: 'platforms', platforms: 'linux/amd64,linux/arm64' }).map(
        p => p.input
      )
    ).toEqual(['platforms'])
    expect(problems({ ...leg, legs: 'platforms' }).map(p => p.input)).toEqual(['platforms'])
    expect(
      problems({ ...leg, services: '', legs: 'platforms', platforms: 'arm64', leg: '1/2' }).map(
        p => p.input
      )
    ).toEqual(['leg'])
    // Other stages take every platform.
    expect(
      settings({ app: 'shop', stage: 'start', legs: 'platforms', platforms: 'amd64,arm64' })
        .platforms
    ).toEqual(['linux/amd64', 'linux/arm64'])
  })
})

describe('secrets input', () => {
  it('refuses an id given twice, naming its lines', () => {
    expect(problems({ app: 'shop', secrets: 'npm=a\nssh=b\nnpm=c' })).toEqual([
      { input: 'secrets', line: 3, message: 'secret id "npm" is given twice (first on line 1)' }
    ])
  })
})

describe('env-drop-guard', () => {
  it('warns by default, is strict with CONVOX_ENV_DROP_GUARD=strict (the convox CLI switch), input wins', () => {
    expect(settings({ app: 'shop' }).envDropGuard).toBe('warn')
    expect(settings({ app: 'shop' }, { CONVOX_ENV_DROP_GUARD: 'strict' }).envDropGuard).toBe(
      'strict'
    )
    expect(
      settings({ app: 'shop', 'env-drop-guard': 'off' }, { CONVOX_ENV_DROP_GUARD: 'strict' })
        .envDropGuard
    ).toBe('off')
  })
})

describe('registry inputs, normalised once', () => {
  it.each([
    ['ghcr.io/acme/shop', 'ghcr.io/acme/shop'],
    ['https://GHCR.io/acme/shop/', 'ghcr.io/acme/shop'],
    ['127.0.0.1:5000/shop', '127.0.0.1:5000/shop'],
    ['localhost:5000/shop', 'localhost:5000/shop'],
    ['index.docker.io/acme/shop', 'docker.io/acme/shop'],
    ['registry-1.docker.io/acme/shop', 'docker.io/acme/shop']
  ])('registry %s is %s', (input, expected) => {
    expect(settings({ app: 'shop', registry: input }).registry).toBe(expected)
  })

  it.each([
    ['ghcr.io', 'is a registry without a repository path'],
    ['127.0.0.1:5050', 'is a registry without a repository path'],
    ['acme/shop', 'has no registry host'],
    ['ghcr.io/Acme/shop', 'repository paths are lowercase'],
    ['ghcr.io/acme//shop', 'has an empty path component'],
    ['ghcr.io/acme/shop:v1', 'must be a repository without tag or digest']
  ])('refuses registry %s before any network use, naming the input', (input, why) => {
    expect(problems({ app: 'shop', registry: input })).toEqual([
      expect.objectContaining({ input: 'registry', message: expect.stringContaining(why) })
    ])
  })

  it.each([
    ['docker.io', 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['Mirror.Example.com', 'mirror.example.com'],
    ['http://127.0.0.1:5051/', '127.0.0.1:5051']
  ])('docker-hub-registry %s is %s', (input, expected) => {
    expect(settings({ app: 'shop', 'docker-hub-registry': input }).dockerHubRegistry).toBe(expected)
  })

  it('refuses a Docker Hub mirror while pushing to Docker Hub (it would get the pushes)', () => {
    expect(
      problems({
        app: 'shop',
        registry: 'docker.io/acme/shop',
        'docker-hub-registry': 'mirror.gcr.io'
      })
    ).toEqual([expect.objectContaining({ input: 'docker-hub-registry' })])
  })
})
