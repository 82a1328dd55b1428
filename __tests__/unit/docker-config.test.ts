import { describe, expect, it } from '@jest/globals'
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  createDockerConfig,
  dockerConfigJson,
  DOCKER_HUB_AUTH_KEY,
  dockerHubAuthKey,
  loginsFromSettings,
  registryHost
} from '../../src/core/docker-config.js'
import { silentLogger } from '../../src/core/log.js'
import { captureLogger } from '../helpers/logger.js'

const base = {
  registry: 'ghcr.io/acme/app',
  registryUsername: 'bot',
  registryPassword: 'push-pass',
  dockerHubUsername: 'hubber',
  dockerHubPassword: 'hub-pass',
  dockerHubRegistry: 'docker.io'
}

describe('logins', () => {
  it('registry host and Docker Hub key', () => {
    expect(registryHost('ghcr.io/acme/app')).toBe('ghcr.io')
    expect(registryHost('127.0.0.1:5050/app')).toBe('127.0.0.1:5050')
    expect(registryHost('acme/app')).toBe('docker.io')
    expect(dockerHubAuthKey('docker.io')).toBe(DOCKER_HUB_AUTH_KEY)
    expect(dockerHubAuthKey('mirror.local:5000')).toBe('mirror.local:5000')
  })

  it('push registry and hub (or its mirror)', () => {
    expect(loginsFromSettings(base).map(l => l.host)).toEqual(['ghcr.io', DOCKER_HUB_AUTH_KEY])
    expect(
      loginsFromSettings({ ...base, dockerHubRegistry: '127.0.0.1:5051' }).map(l => l.host)
    ).toEqual(['ghcr.io', '127.0.0.1:5051'])
    expect(loginsFromSettings({ ...base, registryUsername: '', dockerHubUsername: '' })).toEqual([])
  })
})

describe('private docker config', () => {
  it('writes auths, plugin dirs and BUILDX_CONFIG without touching the user config; masks', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'dc-home-'))
    const tempDir = await mkdtemp(path.join(tmpdir(), 'dc-run-'))
    const { logger, masked } = captureLogger()
    const env = { HOME: home }
    const config = await createDockerConfig(loginsFromSettings(base), { tempDir, env, logger })
    expect(config.dir.startsWith(tempDir)).toBe(true)
    expect((await stat(config.dir)).mode & 0o777).toBe(0o700)
    const json = JSON.parse(await readFile(path.join(config.dir, 'config.json'), 'utf8'))
    expect(Buffer.from(json.auths['ghcr.io'].auth, 'base64').toString()).toBe('bot:push-pass')
    expect(Buffer.from(json.auths[DOCKER_HUB_AUTH_KEY].auth, 'base64').toString()).toBe(
      'hubber:hub-pass'
    )
    expect(json.cliPluginsExtraDirs).toEqual([path.join(home, '.docker', 'cli-plugins')])
    expect(config.env).toEqual({
      DOCKER_CONFIG: config.dir,
      BUILDX_CONFIG: path.join(home, '.docker', 'buildx')
    })
    expect(masked).toEqual(expect.arrayContaining(['push-pass', 'hub-pass']))
    expect(existsSync(path.join(home, '.docker', 'config.json'))).toBe(false)
    await config.cleanup()
    expect(existsSync(config.dir)).toBe(false)
  })

  it('keeps an explicit BUILDX_CONFIG and DOCKER_CONFIG plugins', async () => {
    const tempDir = await mkdtemp(path.join(tmpdir(), 'dc-run-'))
    const env = { DOCKER_CONFIG: '/u/dc', BUILDX_CONFIG: '/u/bx' }
    const config = await createDockerConfig([], { tempDir, env, logger: silentLogger })
    const json = JSON.parse(await readFile(path.join(config.dir, 'config.json'), 'utf8'))
    expect(json.cliPluginsExtraDirs).toEqual(['/u/dc/cli-plugins'])
    expect(config.env.BUILDX_CONFIG).toBe('/u/bx')
    await config.cleanup()
  })

  it("keeps the plugin directories and context of the user's config, never its credentials", async () => {
    const user = await mkdtemp(path.join(tmpdir(), 'dc-user-'))
    await writeFile(
      path.join(user, 'config.json'),
      JSON.stringify({
        auths: { 'ghcr.io': { auth: 'dXNlcjpzZWNyZXQ=' } },
        credsStore: 'desktop',
        currentContext: 'remote',
        cliPluginsExtraDirs: ['/opt/homebrew/lib/docker/cli-plugins', 7]
      })
    )
    const json = dockerConfigJson([], { DOCKER_CONFIG: user })
    expect(json).toEqual({
      auths: {},
      cliPluginsExtraDirs: [path.join(user, 'cli-plugins'), '/opt/homebrew/lib/docker/cli-plugins'],
      currentContext: 'remote'
    })
  })
})
