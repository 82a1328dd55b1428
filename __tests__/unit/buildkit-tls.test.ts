// buildctl over mutual TLS, our side: certificates as PEM text become 0600 files in a private
// directory (buildctl's --tlscacert/--tlscert/--tlskey take file paths: buildctl's
// cmd/buildctl/main.go global flags), paths pass as they are, every address scheme buildctl takes
// reaches it untouched, and the probe's failures are one line naming buildkit-host.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildctlCommand } from '../../src/core/engine/buildctl.js'
import { checkClientCertificate, writeBuildkitTls } from '../../src/core/engine/buildkit-tls.js'
import { selectEngine } from '../../src/core/engine/select.js'
import { UserError } from '../../src/core/errors.js'
import type { Exec } from '../../src/core/exec.js'
import { Redactor } from '../../src/core/secrets.js'
import { addSettingsSecrets, readSettings } from '../../src/core/settings.js'
import { engineRequest } from '../helpers/engine-plan.js'

const CERT_FILE = fileURLToPath(new URL('../fixtures/tls/client.pem', import.meta.url))
const CERT = readFileSync(CERT_FILE, 'utf8')
// Not a key: the shape of one (nothing reads it here).
const KEY =
  '-----BEGIN PRIVATE KEY-----\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASC-not-a-real-key\n-----END PRIVATE KEY-----\n'
const NONE = { ca: '', cert: '', key: '', serverName: '' }

let temp: string
beforeAll(async () => {
  temp = await mkdtemp(path.join(tmpdir(), 'buildkit-tls-unit-'))
})
afterAll(async () => {
  await rm(temp, { recursive: true, force: true })
})

describe('writeBuildkitTls', () => {
  it('writes PEM text to 0600 files in a 0700 directory, gives buildctl their paths, removes them', async () => {
    const tls = await writeBuildkitTls(
      { ca: CERT, cert: CERT, key: KEY, serverName: 'buildkitd.example' },
      temp,
      'tcp://bk:1234'
    )
    const [dir] = await readdir(temp)
    expect(dir).toMatch(/^buildkit-tls-/)
    const where = path.join(temp, dir!)
    expect((await stat(where)).mode & 0o777).toBe(0o700)
    expect(tls.flags).toEqual([
      '--tlsservername',
      'buildkitd.example',
      '--tlscacert',
      path.join(where, 'ca.pem'),
      '--tlscert',
      path.join(where, 'cert.pem'),
      '--tlskey',
      path.join(where, 'key.pem')
    ])
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) {
      expect((await stat(path.join(where, f))).mode & 0o777).toBe(0o600)
    }
    expect(await readFile(path.join(where, 'key.pem'), 'utf8')).toBe(KEY)
    expect(tls.flags.join(' ')).not.toContain('BEGIN')
    await tls.cleanup()
    expect(await readdir(temp)).toEqual([])
  })

  it('passes file paths as they are and writes nothing', async () => {
    const tls = await writeBuildkitTls({ ...NONE, ca: CERT_FILE }, temp, 'tcp://bk:1234')
    expect(tls.flags).toEqual(['--tlscacert', CERT_FILE])
    expect(await readdir(temp)).toEqual([])
  })

  it('gives no flags without TLS inputs', async () => {
    expect((await writeBuildkitTls(undefined, temp)).flags).toEqual([])
    expect((await writeBuildkitTls(NONE, temp)).flags).toEqual([])
  })

  it('names the input whose value is neither PEM nor a readable file, without its value', async () => {
    const err = await writeBuildkitTls({ ...NONE, cert: CERT, key: 'MIIEvAIBADAN' }, temp).catch(
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).message).toBe(
      'input "buildkit-tls-key": is neither PEM text (-----BEGIN ...) nor a file that can be read'
    )
    expect(await readdir(temp)).toEqual([])
  })

  it('an expired or not yet valid client certificate is one line naming buildkit-host', () => {
    const after = new Date('2127-01-01T00:00:00Z')
    expect(() => checkClientCertificate(CERT, 'tcp://bk:1234', after)).toThrow(
      /^input "buildkit-host": BuildKit at tcp:\/\/bk:1234 would refuse the client certificate \(buildkit-tls-cert\): it expired on 2126-/
    )
    const before = new Date('2020-01-01T00:00:00Z')
    expect(() => checkClientCertificate(CERT, 'tcp://bk:1234', before)).toThrow(
      /it is not valid before 2026-/
    )
    expect(() => checkClientCertificate(CERT, 'tcp://bk:1234')).not.toThrow()
    expect(() => checkClientCertificate(KEY, 'tcp://bk:1234')).toThrow(
      /^input "buildkit-tls-cert": is not a PEM certificate/
    )
  })
})

describe('buildctl addresses and TLS flags', () => {
  const FLAGS = ['--tlscacert', '/p/ca.pem', '--tlscert', '/p/cert.pem', '--tlskey', '/p/key.pem']
  // Every scheme buildctl's client dials (client/connhelper: docker-container, kube-pod, ...).
  const ADDRESSES = [
    'tcp://10.0.0.5:1234',
    'unix:///run/buildkit/buildkitd.sock',
    'docker-container://buildx_buildkit_builder0',
    'kube-pod://buildkitd-0?namespace=ci&context=prod&container=buildkitd'
  ]

  it.each(ADDRESSES)('passes %s untouched, the TLS files before the command', addr => {
    const { args } = buildctlCommand(engineRequest(), addr, FLAGS)
    expect(args.slice(0, 9)).toEqual(['--addr', addr, ...FLAGS, 'build'])
  })

  it.each(ADDRESSES)('probes %s with the same flags', async addr => {
    const seen: string[][] = []
    const exec: Exec = async (_command, args) => {
      seen.push(args)
      return { exitCode: 0, stdout: 'ID\tPLATFORMS\nw1\tlinux/arm64,linux/amd64\n', stderr: '' }
    }
    const engine = await selectEngine({
      engine: 'buildctl',
      builder: '',
      buildkitHost: addr,
      buildkitTls: FLAGS,
      exec,
      env: {}
    })
    expect(seen).toEqual([['--addr', addr, ...FLAGS, 'debug', 'workers']])
    expect(engine.platforms).toEqual(['linux/arm64'])
    expect(engine.description).toBe(`buildctl (${addr}, mutual TLS)`)
    expect(engine.command(engineRequest()).args.slice(0, 9)).toEqual([
      '--addr',
      addr,
      ...FLAGS,
      'build'
    ])
  })

  it('a daemon that wants a client certificate, given none: one line that names the inputs', async () => {
    const exec: Exec = async () => ({
      exitCode: 1,
      stdout: '',
      stderr:
        'error: failed to list workers: Unavailable: connection error: desc = "error reading server preface: EOF"\n'
    })
    const err = await selectEngine({
      engine: 'buildctl',
      builder: '',
      buildkitHost: 'tcp://bk:1234',
      exec,
      env: {}
    }).catch((e: unknown) => e)
    expect((err as UserError).message).toBe(
      'input "buildkit-host": BuildKit at tcp://bk:1234 is not reachable: error: failed to list workers: Unavailable: connection error: desc = "error reading server preface: EOF" (does it require mutual TLS? set buildkit-tls-ca, buildkit-tls-cert and buildkit-tls-key)'
    )
  })
})

describe('TLS settings', () => {
  it('reads the four inputs; the certificate and key go together; the PEM texts are masked', () => {
    const inputs: Record<string, string> = {
      'buildkit-tls-ca': CERT,
      'buildkit-tls-cert': CERT,
      'buildkit-tls-key': KEY,
      'buildkit-tls-server-name': 'buildkitd.example'
    }
    const s = readSettings(n => inputs[n] ?? '', { env: {}, cwd: '/w' })
    // Secret values are read as given (PEM ends with a newline).
    expect(s.buildkitTls).toEqual({
      ca: CERT,
      cert: CERT,
      key: KEY,
      serverName: 'buildkitd.example'
    })
    const redactor = new Redactor()
    addSettingsSecrets(redactor, s)
    expect(redactor.redact(`key ${KEY.split('\n')[1]}`)).toBe('key ***')
    const err = (() => {
      try {
        readSettings(n => (n === 'buildkit-tls-cert' ? CERT : ''), { env: {}, cwd: '/w' })
      } catch (e) {
        return e
      }
    })()
    expect((err as UserError).problems).toEqual([
      { input: 'buildkit-tls-key', message: 'buildkit-tls-cert and buildkit-tls-key go together' }
    ])
  })
})
