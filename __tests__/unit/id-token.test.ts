// The CI's OIDC token for keyless signing (src/ci/id-token.ts): SIGSTORE_ID_TOKEN first, else the
// CI's own way: GitHub's token service as @actions/core's getIDToken asks it (GET the request URL
// with `audience`, bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN, answer `{"value": ...}`), Buildkite's
// `buildkite-agent oidc request-token --audience`, CircleCI's `circleci run oidc get --claims`.
// Each token is a secret from the moment it is read.
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from '@jest/globals'
import { idTokenSource } from '../../src/ci/id-token.js'
import { ADAPTERS, CI_SECRET_VARIABLES } from '../../src/ci/index.js'
import type { Exec, ExecOptions } from '../../src/core/exec.js'
import { Redactor } from '../../src/core/secrets.js'
import { serveJson, type ApiRequest, type LoopbackApi } from '../helpers/loopback-api.js'

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
const jwt = (aud = 'sigstore', exp = Math.floor(Date.now() / 1000) + 300): string =>
  `${b64({ alg: 'RS256' })}.${b64({ aud, exp, sub: 'repo:o/r:ref:refs/heads/main', n: randomBytes(4).toString('hex') })}.${randomBytes(16).toString('base64url')}`

let api: LoopbackApi | undefined
afterEach(async () => {
  await api?.close()
  api = undefined
})

const noExec: Exec = () => Promise.reject(new Error('no command expected'))

function recordingExec(stdout: string, exitCode = 0): { exec: Exec; calls: string[][] } {
  const calls: string[][] = []
  const exec: Exec = (command: string, args: string[], _o?: ExecOptions) => {
    calls.push([command, ...args])
    return Promise.resolve({ exitCode, stdout, stderr: '' })
  }
  return { exec, calls }
}

describe('the CI OIDC token', () => {
  it('takes SIGSTORE_ID_TOKEN wherever it is set, and masks it', async () => {
    const token = jwt()
    const secrets = new Redactor()
    const source = idTokenSource({ CI: 'true', SIGSTORE_ID_TOKEN: token }, ADAPTERS, {
      exec: noExec,
      secrets
    })
    await expect(source('sigstore')).resolves.toBe(token)
    expect(secrets.redact(`x ${token} y`)).not.toContain(token)
    expect(CI_SECRET_VARIABLES).toContain('SIGSTORE_ID_TOKEN')
  })

  it('is none outside a CI, and none when a variable holds no JWT', async () => {
    const secrets = new Redactor()
    await expect(idTokenSource({}, ADAPTERS, { exec: noExec, secrets })('sigstore')).resolves.toBe(
      undefined
    )
    const bad = idTokenSource({ SIGSTORE_ID_TOKEN: 'not a token' }, ADAPTERS, {
      exec: noExec,
      secrets
    })
    await expect(bad('sigstore')).resolves.toBe(undefined)
  })

  it("asks GitHub's token service once per audience, with its bearer token only in the header", async () => {
    const token = jwt()
    const bearer = `req-${randomBytes(8).toString('hex')}`
    const seen: ApiRequest[] = []
    api = await serveJson((r, answer) => {
      seen.push(r)
      const url = new URL(r.path, 'http://x')
      if (r.headers.authorization !== `Bearer ${bearer}`) return answer(401, {})
      answer(200, { value: url.searchParams.get('audience') === 'sigstore' ? token : 'wrong' })
    })
    const env = {
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: `${api.url}/token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: bearer
    }
    const secrets = new Redactor()
    const source = idTokenSource(env, ADAPTERS, { exec: noExec, secrets })
    await expect(source('sigstore')).resolves.toBe(token)
    await expect(source('sigstore')).resolves.toBe(token)
    expect(seen).toHaveLength(1)
    expect(new URL(seen[0]!.path, 'http://x').searchParams.get('api-version')).toBe('2.0')
    expect(seen[0]!.path).not.toContain(bearer)
    expect(secrets.redact(token)).not.toContain(token)
  })

  it('asks again when the token kept is about to expire (a long build signs at its end)', async () => {
    let clock = Date.now()
    const tokens = [jwt('sigstore', Math.floor(clock / 1000) + 120), jwt()]
    let served = 0
    api = await serveJson((_r, answer) => answer(200, { value: tokens[served++] }))
    const env = {
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: `${api.url}/token`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'b'
    }
    const source = idTokenSource(
      env,
      ADAPTERS,
      { exec: noExec, secrets: new Redactor() },
      () => clock
    )
    await expect(source('sigstore')).resolves.toBe(tokens[0])
    await expect(source('sigstore')).resolves.toBe(tokens[0])
    clock += 70_000
    await expect(source('sigstore')).resolves.toBe(tokens[1])
    expect(served).toBe(2)
  })

  it("fails with GitHub's status when its token service refuses (no id-token permission)", async () => {
    api = await serveJson((_r, answer) => answer(403, { message: 'no' }))
    const source = idTokenSource(
      {
        GITHUB_ACTIONS: 'true',
        ACTIONS_ID_TOKEN_REQUEST_URL: `${api.url}/token`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'b'
      },
      ADAPTERS,
      { exec: noExec, secrets: new Redactor() }
    )
    await expect(source('sigstore')).rejects.toThrow(/HTTP 403/)
  })

  it('is none on GitHub without id-token: write (no request URL)', async () => {
    const source = idTokenSource({ GITHUB_ACTIONS: 'true' }, ADAPTERS, {
      exec: noExec,
      secrets: new Redactor()
    })
    await expect(source('sigstore')).resolves.toBe(undefined)
  })

  it("asks Buildkite's agent for the audience", async () => {
    const token = jwt()
    const { exec, calls } = recordingExec(`${token}\n`)
    const source = idTokenSource(
      { BUILDKITE: 'true', BUILDKITE_AGENT_ACCESS_TOKEN: 'agent' },
      ADAPTERS,
      { exec, secrets: new Redactor() }
    )
    await expect(source('sigstore')).resolves.toBe(token)
    expect(calls).toEqual([['buildkite-agent', 'oidc', 'request-token', '--audience', 'sigstore']])
  })

  it("asks CircleCI's CLI for a token of the audience; none when the CLI fails", async () => {
    const token = jwt()
    const { exec, calls } = recordingExec(token)
    const env = { CIRCLECI: 'true', CIRCLE_OIDC_TOKEN_V2: jwt('org') }
    await expect(
      idTokenSource(env, ADAPTERS, { exec, secrets: new Redactor() })('sigstore')
    ).resolves.toBe(token)
    expect(calls).toEqual([['circleci', 'run', 'oidc', 'get', '--claims', '{"aud":"sigstore"}']])
    const failing = recordingExec('', 1)
    await expect(
      idTokenSource(env, ADAPTERS, { exec: failing.exec, secrets: new Redactor() })('sigstore')
    ).resolves.toBe(undefined)
  })
})
