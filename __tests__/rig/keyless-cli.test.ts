// The CLI on a GitHub runner with `permissions: id-token: write`, as users run it: the token comes
// from GitHub's token service (a stand-in answering ACTIONS_ID_TOKEN_REQUEST_URL, as
// @actions/core's getIDToken asks it), `sign` left at auto, Sigstore is the mock on loopback.
// Proves the shell's wiring (src/ci/id-token.ts through RunEnvironment.idToken) end to end:
// cosign verifies the pushed image's keyless signature for the workflow's identity, and neither
// token reaches stdout, stderr or the output file. Run in process and as the bundle users run
// (dist/cli.js under Node 20 and 24: Sigstore's libraries are a chunk it loads when signing).
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/run.js'
import { node24Dir } from '../helpers/act.js'
import { exampleApp, type ExampleApp } from '../helpers/pipeline.js'
import { serveJson, type ApiRequest, type LoopbackApi } from '../helpers/loopback-api.js'
import {
  loadRig,
  makeDockerConfig,
  REPO_ROOT,
  rigCliEnv,
  rigCliFlags,
  rigLogins,
  run,
  uniqueRepo
} from '../helpers/rig.js'
import {
  cosignTrusting,
  GITHUB_ISSUER,
  githubToken,
  startSigstoreMock,
  type SigstoreMock
} from '../helpers/sigstore-mock.js'

const rig = loadRig()
const SHA = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00'
let example: ExampleApp
let dir: string
let dockerConfig: string
let mock: SigstoreMock
let cosignEnv: Record<string, string>
let tokenService: LoopbackApi
const asked: ApiRequest[] = []
const bearer = `idreq-${randomBytes(12).toString('hex')}`
const token = githubToken('acme/app', 'refs/heads/main')

beforeAll(async () => {
  example = await exampleApp()
  dir = await mkdtemp(path.join(tmpdir(), 'keyless-cli-'))
  dockerConfig = await makeDockerConfig(rigLogins(rig, { hub: false }))
  mock = await startSigstoreMock()
  cosignEnv = await cosignTrusting(mock, dir)
  tokenService = await serveJson((r, answer) => {
    asked.push(r)
    const audience = new URL(r.path, 'http://x').searchParams.get('audience')
    if (r.headers.authorization !== `Bearer ${bearer}`) return answer(401, {})
    answer(200, { value: audience === 'sigstore' ? token : 'wrong audience' })
  })
})
afterAll(async () => {
  await tokenService?.close()
  await mock?.close()
  for (const d of [dir, dockerConfig, example?.dir])
    if (d) await rm(d, { recursive: true, force: true })
})

type Cli = (
  args: string[],
  env: NodeJS.ProcessEnv
) => Promise<{ code: number; stdout: string; stderr: string }>

const inProcess: Cli = async (args, env) => {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: t => (stdout += t),
    stderr: t => (stderr += t),
    env,
    cwd: example.dir,
    signals: false
  })
  return { code, stdout, stderr }
}

const bundled =
  (nodeDir: string): Cli =>
  async (args, env) => {
    const node = nodeDir ? path.join(nodeDir, 'node') : process.execPath
    const r = await run(node, [path.join(REPO_ROOT, 'dist', 'cli.js'), ...args], {
      rig,
      env,
      cwd: example.dir
    })
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr }
  }

describe('keyless signing from the CLI on a GitHub runner', () => {
  it.each([
    ['in process', () => inProcess],
    ['dist/cli.js on Node 20', () => bundled('')],
    ['dist/cli.js on Node 24', () => bundled(node24Dir())]
  ])(
    "%s: signs with the token GitHub's token service gives (sign: auto); cosign verifies the workflow's identity",
    async (_name, cli) => {
      const registry = uniqueRepo('keyless-cli', rig)
      const outputs = path.join(dir, `outputs-${randomBytes(4).toString('hex')}.env`)
      const before = { asked: asked.length, fulcio: mock.calls.fulcio }
      const { code, stdout, stderr } = await cli()(
        [
          'build',
          ...rigCliFlags(rig),
          '--app',
          'example',
          '--registry',
          registry,
          '--registry-username',
          rig.registryUsername,
          '--git-sha',
          SHA,
          '--sigstore-fulcio-url',
          mock.fulcioUrl,
          '--sigstore-rekor-url',
          mock.rekorUrl,
          '--output-file',
          outputs,
          '--json'
        ],
        rigCliEnv(rig, {
          CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword,
          GITHUB_ACTIONS: 'true',
          GITHUB_REPOSITORY: 'acme/app',
          GITHUB_REF: 'refs/heads/main',
          GITHUB_REF_NAME: 'main',
          GITHUB_REF_TYPE: 'branch',
          GITHUB_EVENT_NAME: 'push',
          GITHUB_SHA: SHA,
          ACTIONS_ID_TOKEN_REQUEST_URL: `${tokenService.url}/_apis/token?api-version=2.0`,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: bearer
        })
      )
      expect({ code, stderr: stderr.slice(-2000) }).toEqual({
        code: 0,
        stderr: expect.any(String)
      })
      expect(asked.length).toBeGreaterThan(before.asked)
      expect(mock.calls.fulcio).toBe(before.fulcio + 1)
      const result = JSON.parse(stdout) as { digests: Record<string, string> }
      const digest = result.digests.web!
      expect(stderr).toMatch(/keyless \(Sigstore\)/)
      const files = [stdout, stderr, await readFile(outputs, 'utf8')].join('\n')
      for (const secret of [token, token.split('.')[1]!, bearer])
        expect(files).not.toContain(secret)

      const v = await run(
        path.join(rig.rigBin, 'cosign'),
        [
          'verify',
          '--certificate-identity',
          'https://github.com/acme/app/.github/workflows/build.yml@refs/heads/main',
          '--certificate-oidc-issuer',
          GITHUB_ISSUER,
          '--allow-insecure-registry',
          '--allow-http-registry',
          `${registry}@${digest}`
        ],
        {
          rig,
          dockerConfig,
          env: cosignEnv
        }
      )
      expect(`${v.exitCode} ${v.stderr}`).toMatch(/^0 /)
      expect(v.stdout).toContain(digest)
    }
  )
})
