// The CI adapters' table (src/ci/index.ts): one adapter per CI, named by env-ci's id, listed in
// the README with its packaging; env-ci's answer for a CI without one; every adapter's token
// variables masked in what the CLI writes.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { ADAPTERS, CI_SECRET_VARIABLES } from '../../src/ci/index.js'
import { runCli } from '../../src/cli/run.js'
import { readCiWithoutCheckout } from '../helpers/ci-cases.js'
import { readmeSection } from '../helpers/readme.js'
import { REPO_ROOT } from '../helpers/rig.js'

const HEAD = '0123456789abcdef0123456789abcdef01234567'

describe('the adapters table', () => {
  it("names each adapter by env-ci's id of its CI, once", () => {
    // env-ci's services/<name>.js each answer `service: "<id>"`.
    const dir = path.join(REPO_ROOT, 'node_modules/env-ci/services')
    const ids = readdirSync(dir).flatMap(f => {
      const m = /service: "([A-Za-z]+)"/.exec(readFileSync(path.join(dir, f), 'utf8'))
      return m?.[1] ? [m[1]] : []
    })
    const services = ADAPTERS.map(a => a.service)
    expect(new Set(services).size).toBe(services.length)
    for (const s of services) expect(ids).toContain(s)
  })

  it('has a README row per adapter: its file and packaging, which exist', () => {
    const rows = readmeSection('Adding a CI')
      .split('\n')
      .filter(l => l.startsWith('| ') && !l.startsWith('| CI ') && !l.startsWith('| ---'))
    expect(rows).toHaveLength(ADAPTERS.length)
    for (const a of ADAPTERS) {
      const row = rows.find(r => r.startsWith(`| ${a.name} |`)) ?? ''
      const file = /`(src\/ci\/[a-z-]+\.ts)`/.exec(row)?.[1] ?? ''
      expect(existsSync(path.join(REPO_ROOT, file))).toBe(true)
      expect(readFileSync(path.join(REPO_ROOT, file), 'utf8')).toContain(`service: '${a.service}'`)
      for (const p of a.packaging) {
        expect(row).toContain(`\`${p}\``)
        expect(existsSync(path.join(REPO_ROOT, p))).toBe(true)
      }
      expect(a.packaging.length > 0 || row.includes("the README's npx step")).toBe(true)
    }
  })
})

describe('a CI without an adapter: env-ci answers, the shared trust rules apply', () => {
  const read = readCiWithoutCheckout
  const travis = {
    TRAVIS: 'true',
    TRAVIS_COMMIT: HEAD,
    TRAVIS_BRANCH: 'main',
    TRAVIS_REPO_SLUG: 'acme/app',
    TRAVIS_PULL_REQUEST: 'false',
    TRAVIS_BUILD_WEB_URL: 'https://app.travis-ci.com/acme/app/builds/9'
  }

  it('a push', async () => {
    expect(await read(travis)).toMatchObject({
      service: 'travis',
      name: 'Travis CI',
      commit: HEAD,
      commitSource: 'ci',
      branch: 'main',
      isPullRequest: false,
      repository: 'acme/app',
      runUrl: 'https://app.travis-ci.com/acme/app/builds/9',
      scope: { kind: 'protected', name: 'main' },
      forkCode: ''
    })
  })

  it('a pull request', async () => {
    const pr = { ...travis, TRAVIS_PULL_REQUEST: '5', TRAVIS_PULL_REQUEST_BRANCH: 'fix' }
    expect(await read(pr)).toMatchObject({
      isPullRequest: true,
      pullRequest: '5',
      branch: 'fix',
      targetBranch: 'main',
      scope: { kind: 'untrusted', name: 'pr-5', reason: 'pull request #5 from acme/app' }
    })
  })
})

describe("each adapter's token variables", () => {
  let work: string
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'ci-tokens-'))
  })
  afterAll(() => rm(work, { recursive: true, force: true }))

  // As each CI documents them; Jenkins has none of its own.
  const documented: Record<string, string[]> = {
    github: ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'GITHUB_TOKEN'],
    gitlab: ['CI_JOB_TOKEN', 'CI_REGISTRY_PASSWORD', 'CI_JOB_JWT', 'CI_JOB_JWT_V2'],
    buildkite: ['BUILDKITE_AGENT_ACCESS_TOKEN'],
    circleci: ['CIRCLE_TOKEN', 'CIRCLE_OIDC_TOKEN', 'CIRCLE_OIDC_TOKEN_V2'],
    bitbucket: ['BITBUCKET_STEP_OIDC_TOKEN'],
    jenkins: [],
    azurePipelines: ['SYSTEM_ACCESSTOKEN']
  }

  it('are the ones each CI documents', () => {
    expect(Object.fromEntries(ADAPTERS.map(a => [a.service, a.secretVariables]))).toEqual(
      documented
    )
    // Any CI's: the variable cosign and GitLab's Sigstore docs name for the OIDC token.
    expect([...CI_SECRET_VARIABLES].sort()).toEqual(
      [...Object.values(documented).flat(), 'SIGSTORE_ID_TOKEN'].sort()
    )
  })

  it('never reach what the CLI prints or writes', async () => {
    const names = [...Object.values(documented).flat(), 'SIGSTORE_ID_TOKEN']
    const tokens = Object.fromEntries(names.map((n, i) => [n, `tok-${i}-${n}`]))
    const summary = path.join(work, 'summary.md')
    const output = path.join(work, 'out.env')
    let out = ''
    const code = await runCli(
      [
        'plan',
        '--app',
        'myapp',
        '--json',
        '--description',
        Object.values(tokens).join(' '),
        '--summary-file',
        summary,
        '--output-file',
        output
      ],
      {
        stdout: t => (out += t),
        stderr: t => (out += t),
        env: { PATH: process.env.PATH, GIT_CEILING_DIRECTORIES: tmpdir(), ...tokens },
        cwd: path.join(REPO_ROOT, 'examples'),
        signals: false
      }
    )
    expect(code).toBe(0)
    const written = `${out}${await readFile(summary, 'utf8')}${await readFile(output, 'utf8')}`
    expect(written).toContain('*** ***')
    for (const value of Object.values(tokens)) expect(written).not.toContain(value)
  })
})
