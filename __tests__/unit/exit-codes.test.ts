// Error kinds and their exit codes (README "Exit codes"): a user's mistake 1, a failed build 2,
// a registry or rack that failed 3; user mistakes and failed builds as problem lines, remote
// failures as one `error:` line; never a stack.
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { runCli } from '../../src/cli/run.js'
import { BuildFailure } from '../../src/core/engine/run-build.js'
import {
  BuildError,
  EXIT_CODES,
  exitCodeOf,
  RemoteError,
  UserError
} from '../../src/core/errors.js'
import { RackError } from '../../src/core/rack/rack-errors.js'
import { PromoteError } from '../../src/core/rack/promote.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'

const SHA = '0123456789abcdef0123456789abcdef01234567'

/** `convox-build build` whose pipeline throws `error`. */
async function failing(error: unknown): Promise<{ code: number; stderr: string }> {
  let stderr = ''
  const code = await runCli(['build', '--app', 'myapp'], {
    stdout: () => undefined,
    stderr: t => (stderr += t),
    env: { GITHUB_ACTIONS: 'true', GITHUB_SHA: SHA },
    cwd: path.resolve('examples'),
    signals: false,
    pipeline: async () => {
      throw error
    }
  })
  return { code, stderr }
}

describe('the CLI exits with the code of each error kind', () => {
  it.each([
    [
      'a user mistake',
      new UserError({ input: 'services', message: 'no such' }),
      1,
      '--services: no such'
    ],
    [
      'a failed build',
      new BuildFailure(['web'], 'process "/bin/sh -c exit 3" did not complete successfully', 'log'),
      2,
      'build of web failed: process "/bin/sh -c exit 3" did not complete successfully'
    ],
    [
      'a fan-out build a leg failed',
      new BuildError('build B1 has no image for api'),
      2,
      'build B1 has no image for api'
    ],
    [
      'a registry that gave up',
      new RemoteError('registry r.local: cannot connect (ECONNREFUSED) (gave up after 3 attempts)'),
      3,
      'error: registry r.local: cannot connect (ECONNREFUSED) (gave up after 3 attempts)'
    ],
    [
      'a rack call that failed',
      new RackError('rack r.local: GET /apps/x: 500 boom', 500, 'boom', 'ambiguous'),
      3,
      'error: rack r.local: GET /apps/x: 500 boom'
    ],
    [
      'a promote the rack refused',
      new PromoteError('promote of R1 failed', undefined),
      3,
      'error: promote of R1 failed'
    ],
    ['an unexpected error', new Error('bug'), 1, 'error: bug']
  ])('%s: %i, one line, no stack', async (_what, error, code, line) => {
    const r = await failing(error)
    expect(r.code).toBe(code)
    expect(r.stderr.trim().split('\n').at(-1)).toBe(line)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('names each kind once, with its own code', () => {
    expect(new Set(Object.values(EXIT_CODES)).size).toBe(3)
    expect(exitCodeOf(new UserError('x'))).toBe(EXIT_CODES.user)
    expect(exitCodeOf(new BuildFailure(['web'], 'x', ''))).toBe(EXIT_CODES.build)
    expect(exitCodeOf(new RackError('x', 0, 'x', 'unreached'))).toBe(EXIT_CODES.remote)
    // A failed build is not a user's mistake, nor a remote failure a user's.
    expect(new BuildFailure(['web'], 'x', '')).not.toBeInstanceOf(UserError)
    expect(new RemoteError('x')).not.toBeInstanceOf(UserError)
  })
})

describe('a registry that fails', () => {
  let server: Server
  let host: string
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url?.includes('/manifests/refused') ? 400 : 503)
      res.end('{"errors":[{"code":"UNSUPPORTED"}]}')
    })
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise(r => server.close(r)))

  it('gives up after its retries as a remote failure (3), not a user error', async () => {
    const client = new RegistryClient({ retries: 1, retryDelayMs: 1 })
    const e = await client.getManifest(parseReference(`${host}/app:tag`)).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RemoteError)
    expect(exitCodeOf(e)).toBe(3)
    expect((e as Error).message).toMatch(/gave up after 2 attempts/)
  })

  it('refusing a call is a remote failure (3)', async () => {
    const client = new RegistryClient({ retries: 0, retryDelayMs: 1 })
    const e = await client
      .getManifest(parseReference(`${host}/app:refused`))
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RemoteError)
    expect((e as Error).message).toMatch(/HTTP 400: UNSUPPORTED$/)
  })
})

describe('documented', () => {
  it('in --help and in the README table, code for code', async () => {
    let help = ''
    await runCli(['--help'], {
      stdout: t => (help += t),
      stderr: () => undefined,
      env: {},
      cwd: '.',
      signals: false
    })
    const readme = readFileSync('README.md', 'utf8')
    for (const code of [...Object.values(EXIT_CODES), '130, 143']) {
      expect(help).toMatch(new RegExp(`^  ${code}\\s+\\S`, 'm'))
      expect(readme).toMatch(new RegExp(`^\\| ${code} \\| \\S`, 'm'))
    }
  })
})
