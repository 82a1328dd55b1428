// The GitLab CI/CD component, run by gitlab-ci-local with a shell executor: the README's
// .gitlab-ci.yml includes templates/convox-build.yml from this checkout, builds the example app
// with the packed npm package on the rig, and the later job reads the dotenv outputs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse as parseDotenv } from 'dotenv'
import { stringify } from 'yaml'
import { spawnExec, type ExecResult } from '../../src/core/exec.js'
import { node24Dir } from '../helpers/act.js'
import { withoutCi } from '../helpers/ci-cases.js'
import { installTarball, npmEnv, packTarball } from '../helpers/npm-package.js'
import { readmeSnippet } from '../helpers/readme.js'
import {
  REPO_ROOT,
  loadRig,
  makeDockerConfig,
  rigEnv,
  rigLogins,
  skopeo,
  uniqueRepo
} from '../helpers/rig.js'

const rig = loadRig()
const GITLAB_CI_LOCAL = path.join(REPO_ROOT, 'node_modules/gitlab-ci-local/dist/index.js')
/** Where the project's remote says it lives: the component's address is derived from it. */
const REMOTE = 'https://gitlab.example.com/convox-build/convox-build.git'

let work: string
let project: string
let repo: string
let sha: string
let run: ExecResult
let outputs: Record<string, string>

async function git(...args: string[]): Promise<string> {
  const r = await spawnExec(
    'git',
    ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args],
    {
      cwd: project,
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: work }
    }
  )
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'gitlab-component-'))
  project = path.join(work, 'project')
  repo = uniqueRepo('gitlab-component')
  const tarball = await packTarball(work)

  // A project holding the component and the example app, as its repository would.
  await cp(path.join(REPO_ROOT, 'templates'), path.join(project, 'templates'), { recursive: true })
  await cp(path.join(REPO_ROOT, 'examples'), project, { recursive: true })
  const { code } = readmeSnippet('GitLab CI/CD')
  await writeFile(path.join(project, '.gitlab-ci.yml'), code)
  await writeFile(
    path.join(project, '.gitignore'),
    'node_modules/\n.gitlab-ci-local*\nconvox-build.*\ngl-code-quality-report.json\n'
  )
  await git('init', '-q', '-b', 'main')
  await git('remote', 'add', 'origin', REMOTE)
  await git('add', '-A')
  await git('commit', '-q', '-m', 'Fix login')
  sha = await git('rev-parse', 'HEAD')
  // The one change to the README's file: the component from this commit, as GitLab's docs test
  // a component in its own project (`@$CI_COMMIT_SHA`).
  const component = /component: (\S+)@(\S+)/.exec(code)
  if (component?.[1] !== '$CI_SERVER_FQDN/convox-build/convox-build/convox-build') {
    throw new Error(`the README's component is ${component?.[1]}`)
  }
  await writeFile(
    path.join(project, '.gitlab-ci.yml'),
    code.replace(`@${component?.[2]}`, `@${sha}`)
  )

  // The package the component names, installed offline where npx finds it.
  const cache = path.join(work, 'npm-cache')
  await installTarball(tarball, project, cache)

  // Project CI/CD variables, in the file gitlab-ci-local reads (secrets stay off argv).
  const variables = {
    CI_REGISTRY_IMAGE: repo,
    CI_REGISTRY_USER: rig.registryUsername,
    CI_REGISTRY_PASSWORD: rig.registryPassword,
    BUILDKIT_HOST: rig.buildkitHost,
    CONVOX_BUILD_DOCKER_HUB_REGISTRY: rig.hubRegistry,
    CONVOX_BUILD_DOCKER_HUB_USERNAME: rig.hubUsername,
    CONVOX_BUILD_DOCKER_HUB_PASSWORD: rig.hubPassword
  }
  await writeFile(path.join(project, '.gitlab-ci-local-variables.yml'), stringify(variables), {
    mode: 0o600
  })

  // gitlab-ci-local needs Node 22 or later.
  // A variable whose value is a path would be a file variable there: npm's go in the environment.
  const env = withoutCi(rigEnv(rig, npmEnv(cache)))
  env.PATH = `${node24Dir()}${path.delimiter}${env.PATH}`
  run = await spawnExec(
    'node',
    [
      GITLAB_CI_LOCAL,
      '--force-shell-executor',
      '--ignore-predefined-vars',
      'CI_REGISTRY_IMAGE,CI_REGISTRY_USER,CI_REGISTRY_PASSWORD'
    ],
    { cwd: project, env }
  )
  outputs = parseDotenv(
    await readFile(path.join(project, 'convox-build.env'), 'utf8').catch(() => '')
  )
})
afterAll(() => rm(work, { recursive: true, force: true }))

describe('the GitLab CI/CD component under gitlab-ci-local', () => {
  it('runs the pipeline: the build job, then the job that needs it', () => {
    if (run.exitCode !== 0) throw new Error(`gitlab-ci-local failed:\n${run.stdout}\n${run.stderr}`)
    expect(run.stdout).toMatch(/PASS\s+convox-build/)
    expect(run.stdout).toMatch(/PASS\s+deploy/)
  })

  it('leaves the outputs as a dotenv report, which the later job reads', () => {
    expect(outputs.BUILD_ID).toMatch(/^B[A-Z]{10}$/)
    expect(outputs.RELEASE_ID).toMatch(/^R[A-Z]{10}$/)
    expect(run.stdout).toContain(`Built ${outputs.BUILD_ID}, release ${outputs.RELEASE_ID}`)
    const images = JSON.parse(outputs.IMAGES ?? '')
    expect(images.web).toBe(`${repo}:web.${outputs.BUILD_ID}`)
  })

  it("builds the commit GitLab names, described by git's subject", () => {
    const plan = JSON.parse(outputs.PLAN ?? '')
    expect(plan).toMatchObject({ app: 'myapp', gitSha: sha })
    expect(plan.description).toBe(`build ${sha.slice(0, 10)} Fix login`)
  })

  it("pushes every service to the project's registry", async () => {
    const config = await makeDockerConfig(rigLogins(rig, { hub: false }))
    for (const service of ['web', 'worker', 'api', 'cache']) {
      const r = await skopeo([
        'inspect',
        '--tls-verify=false',
        '--authfile',
        path.join(config, 'config.json'),
        `docker://${repo}:${service}.${outputs.BUILD_ID}`
      ])
      expect(r.exitCode).toBe(0)
    }
    await rm(config, { recursive: true, force: true })
  })

  it('leaves a code quality report: empty, the build had no problem', async () => {
    const report = await readFile(path.join(project, 'gl-code-quality-report.json'), 'utf8')
    expect(JSON.parse(report)).toEqual([])
  })

  it('writes the summary, and no password anywhere', async () => {
    const summary = await readFile(path.join(project, 'convox-build.md'), 'utf8')
    expect(summary).toContain(`## convox-build: myapp`)
    const env = await readFile(path.join(project, 'convox-build.env'), 'utf8')
    for (const text of [run.stdout, run.stderr, summary, env]) {
      expect(text).not.toContain(rig.registryPassword)
      expect(text).not.toContain(rig.hubPassword)
    }
  })
})
