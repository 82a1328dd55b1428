// The npm package as users get it (packed, installed offline on Node 20 and 24), the Buildkite
// hook under bats, and the README's section of each CI run as written on the rig: the plugin
// with a stub buildkite-agent, the orb's job, and the Bitbucket, Jenkins and Azure scripts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parse as parseDotenv } from 'dotenv'
import { parse } from 'yaml'
import { spawnExec, type ExecResult } from '../../src/core/exec.js'
import { node24Dir } from '../helpers/act.js'
import { withoutCi } from '../helpers/ci-cases.js'
import { installTarball, npmEnv, packTarball } from '../helpers/npm-package.js'
import { readmeSnippet } from '../helpers/readme.js'
import { REPO_ROOT, loadRig, rigEnv } from '../helpers/rig.js'

const rig = loadRig()
const HEAD = '0123456789abcdef0123456789abcdef01234567'
const VERSION = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')).version

let work: string
let tarball: string
let cache: string
/** An empty directory of its own (npm installs into the nearest node_modules above one). */
let empty: string

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ci-packages-'))
  cache = path.join(work, 'npm-cache')
  tarball = await packTarball(work)
  // Where the README's `npx --yes convox-build@<version>` finds the package, offline.
  await installTarball(tarball, work, cache)
  empty = await mkdtemp(path.join(tmpdir(), 'ci-packages-empty-'))
  await installTarball(tarball, empty, path.join(work, 'empty-cache'))
})
afterAll(async () => {
  await rm(work, { recursive: true, force: true })
  await rm(empty, { recursive: true, force: true })
})

/** A fresh copy of the example app, in a directory that is not a git checkout. */
async function app(name: string): Promise<string> {
  const dir = path.join(work, name, 'app')
  await cp(path.join(REPO_ROOT, 'examples'), dir, { recursive: true })
  return dir
}

/** A CI machine on the rig: BuildKit, the Docker Hub stand-in, npm offline; then the CI's own. */
function machine(ci: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const base = withoutCi(rigEnv(rig, { ...npmEnv(cache), GIT_CEILING_DIRECTORIES: work }))
  // CONVOX_BUILD_* were dropped with the others: the machine's own come back, then the CI's.
  return {
    ...base,
    CONVOX_BUILD_ENGINE: 'buildctl',
    CONVOX_BUILD_DOCKER_HUB_REGISTRY: rig.hubRegistry,
    CONVOX_BUILD_DOCKER_HUB_USERNAME: rig.hubUsername,
    CONVOX_BUILD_DOCKER_HUB_PASSWORD: rig.hubPassword,
    ...ci
  }
}

async function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<ExecResult> {
  const r = await spawnExec('bash', ['-euo', 'pipefail', '-c', script], { cwd, env })
  if (r.exitCode !== 0) throw new Error(`${script}\nexit ${r.exitCode}:\n${r.stdout}\n${r.stderr}`)
  return r
}

/** The plan in a dotenv output file, and the exported tarball's presence. */
async function built(dir: string, file = 'convox-build.env'): Promise<Record<string, string>> {
  const values = parseDotenv(await readFile(path.join(dir, file), 'utf8'))
  expect(values.BUILD_ID).toMatch(/^B[A-Z]{10}$/)
  expect(values.RELEASE_ID).toMatch(/^R[A-Z]{10}$/)
  return values
}

describe('the npm package', () => {
  it('installs offline into an empty directory: nothing but itself', async () => {
    const dir = empty
    const installed = (await readdir(path.join(dir, 'node_modules'))).filter(
      f => !f.startsWith('.')
    )
    expect(installed).toEqual(['convox-build'])
    const files = await readdir(path.join(dir, 'node_modules/convox-build/dist'))
    const chunks = (await readdir(path.join(REPO_ROOT, 'dist'))).filter(f =>
      /^\d+\.cli\.js$/.test(f)
    )
    expect(chunks.length).toBeGreaterThan(0)
    expect(files.sort()).toEqual(['cli.js', 'licenses.txt', 'package.json', ...chunks].sort())
  })

  it.each([
    ['Node 20 (the oldest supported)', ''],
    ['Node 24', node24Dir()]
  ])('npx convox-build plan works on %s', async (_name, nodeDir) => {
    const dir = empty
    const cwd = await app(`plan-${nodeDir ? 24 : 20}`)
    const env = machine({})
    if (nodeDir) env.PATH = `${nodeDir}${path.delimiter}${env.PATH}`
    const version = await bash('node --version', cwd, env)
    expect(version.stdout).toMatch(nodeDir ? /^v24\./ : /^v2\d\./)
    const r = await bash(
      `cd ${JSON.stringify(dir)} && npx convox-build plan --working-directory ${JSON.stringify(cwd)} --app example && npx convox-build --version`,
      cwd,
      env
    )
    const [plan, v] = r.stdout.split(/(?<=^\})\n/m)
    expect(JSON.parse(plan ?? '')).toMatchObject({ app: 'example', gitSha: '' })
    expect(v?.trim()).toBe(VERSION)
    expect(r.stderr).toMatch(/warning: cannot tell which commit is built/)
  })
})

describe('the Buildkite plugin', () => {
  it('passes its bats tests (hooks/command with a stub buildkite-agent)', async () => {
    const r = await spawnExec(
      'bats',
      ['--tap', path.join(REPO_ROOT, '__tests__/buildkite/command.bats')],
      { env: { ...withoutCi(process.env), CONVOX_BUILD_TARBALL: tarball } }
    )
    if (r.exitCode !== 0) throw new Error(`bats failed:\n${r.stdout}\n${r.stderr}`)
    const results = r.stdout.split('\n').filter(l => /^(not )?ok /.test(l))
    expect(results.length).toBeGreaterThanOrEqual(5)
    expect(results.filter(l => l.startsWith('not ok'))).toEqual([])
  })

  it("runs the README's pipeline: build and export, then the release id from meta-data", async () => {
    const { code } = readmeSnippet('Buildkite')
    const steps = parse(code).steps as Record<string, unknown>[]
    const [plugin] = steps[0]?.plugins as Record<string, Record<string, unknown>>[]
    const [source, config] = Object.entries(plugin ?? {})[0] ?? []
    expect(source).toBe(`https://github.com/convox-build/convox-build.git#v${VERSION}`)
    // The agent's variables for the plugin's properties (lists as _0, _1, ...).
    const props: NodeJS.ProcessEnv = {}
    for (const [key, value] of Object.entries(config ?? {})) {
      const name = `BUILDKITE_PLUGIN_CONVOX_BUILD_${key.toUpperCase().replace(/-/g, '_')}`
      if (Array.isArray(value)) value.forEach((v, i) => (props[`${name}_${i}`] = String(v)))
      else props[name] = String(value)
    }
    const cwd = await app('buildkite')
    const bin = path.join(work, 'buildkite', 'bin')
    await mkdir(bin)
    await cp(
      path.join(REPO_ROOT, '__tests__/fixtures/buildkite-agent'),
      path.join(bin, 'buildkite-agent')
    )
    await chmod(path.join(bin, 'buildkite-agent'), 0o755)
    const log = path.join(work, 'buildkite', 'agent.log')
    const ci = machine({
      BUILDKITE: 'true',
      BUILDKITE_COMMIT: HEAD,
      BUILDKITE_MESSAGE: 'Fix login',
      BUILDKITE_BRANCH: 'main',
      BUILDKITE_PULL_REQUEST: 'false',
      BUILDKITE_AGENT_STUB_LOG: log
    })
    ci.PATH = `${bin}${path.delimiter}${ci.PATH}`
    await writeFile(log, '')
    await bash(`bash ${JSON.stringify(path.join(REPO_ROOT, 'hooks/command'))}`, cwd, {
      ...ci,
      ...props
    })
    expect(existsSync(path.join(cwd, String(steps[0]?.artifact_paths)))).toBe(true)
    const calls = await readFile(log, 'utf8')
    expect(calls).toMatch(/^meta-data set convox-build-id B[A-Z]{10}$/m)
    expect(calls).toMatch(/^annotate --style \w+ --context convox-build-myapp$/m)
    expect(calls).toContain('> build 0123456789 Fix login')
    const release = await bash(String(steps[2]?.command), cwd, ci)
    expect(release.stdout).toMatch(/^Release R[A-Z]{10}$/m)
  })
})

/** CircleCI's expansion of `<< parameters.x >>` and `<< include(scripts/f) >>` in an orb's text. */
function expand(
  text: string,
  params: Record<string, unknown>,
  scripts: Record<string, string> = {}
) {
  return text
    .replace(/<< parameters\.([\w-]+) >>/g, (_m, name: string) => String(params[name] ?? ''))
    .replace(/<< include\(([^)]+)\) >>/g, (_m, file: string) => scripts[file] ?? '')
}

interface OrbParameter {
  default?: unknown
}

describe('the CircleCI orb', () => {
  it("runs the README's workflow: the job's command, the files it keeps", async () => {
    const orb = (f: string) => readFile(path.join(REPO_ROOT, 'orb/src', f), 'utf8')
    const scripts = { 'scripts/build.sh': await orb('scripts/build.sh') }
    const job = parse(await orb('jobs/build.yml'))
    const command = parse(await orb('commands/build.yml'))
    const { code } = readmeSnippet('CircleCI')
    const config = parse(code)
    expect(config.orbs['convox-build']).toBe(`convox-build/convox-build@${VERSION}`)
    const [invocation] = config.workflows.build.jobs as Record<string, Record<string, unknown>>[]
    const given = invocation?.['convox-build/build'] ?? {}
    const defaults = (p: Record<string, OrbParameter>) =>
      Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.default ?? '']))
    const jobParams = { ...defaults(job.parameters), ...given }

    const cwd = await app('circleci')
    const ci = machine({
      CIRCLECI: 'true',
      CIRCLE_SHA1: HEAD,
      CIRCLE_BRANCH: 'main',
      CIRCLE_PROJECT_USERNAME: 'acme',
      CIRCLE_PROJECT_REPONAME: 'myapp'
    })
    const kept: string[] = []
    for (const step of job.steps as (string | Record<string, Record<string, unknown>>)[]) {
      if (step === 'checkout') continue // the copy of the app
      const [name, args] = Object.entries(step)[0] ?? []
      if (name === 'build') {
        const commandParams = {
          ...defaults(command.parameters),
          ...Object.fromEntries(
            Object.entries(args ?? {}).map(([k, v]) => [k, expand(String(v), jobParams)])
          )
        }
        const run = command.steps[0].run
        const environment = Object.fromEntries(
          Object.entries(run.environment as Record<string, string>).map(([k, v]) => [
            k,
            expand(v, commandParams)
          ])
        )
        await bash(expand(run.command, commandParams, scripts), cwd, { ...ci, ...environment })
      } else if (name === 'store_artifacts') kept.push(expand(String(args?.path), jobParams))
      else if (name === 'persist_to_workspace') {
        for (const p of args?.paths as string[]) kept.push(expand(p, jobParams))
      }
    }
    expect(kept).toEqual(['convox-build.md', 'convox-build.env'])
    for (const f of kept) expect(existsSync(path.join(cwd, f))).toBe(true)
    const values = await built(cwd)
    expect(JSON.parse(values.PLAN ?? '')).toMatchObject({ app: 'myapp', gitSha: HEAD })
    expect(values.EXPORT_PATH).toBe(path.join(cwd, 'build.tgz'))
    expect(existsSync(path.join(cwd, 'build.tgz'))).toBe(true)
  })
})

describe("the README's scripts", () => {
  it('Bitbucket Pipelines: the build step, then the step that reads its outputs', async () => {
    const config = parse(readmeSnippet('Bitbucket Pipelines').code)
    const cwd = await app('bitbucket')
    const ci = machine({
      BITBUCKET_BUILD_NUMBER: '7',
      BITBUCKET_COMMIT: HEAD,
      BITBUCKET_BRANCH: 'main',
      BITBUCKET_REPO_FULL_NAME: 'acme/myapp'
    })
    const outputs: string[] = []
    for (const { step } of config.pipelines.default) {
      const r = await bash((step.script as string[]).join('\n'), cwd, ci)
      outputs.push(r.stdout)
      for (const artifact of step.artifacts ?? []) {
        expect(existsSync(path.join(cwd, artifact))).toBe(true)
      }
    }
    const values = await built(cwd)
    expect(JSON.parse(values.PLAN ?? '')).toMatchObject({
      gitSha: HEAD,
      description: 'build 0123456789'
    })
    expect(outputs[1]).toContain(`Built ${values.BUILD_ID}, release ${values.RELEASE_ID}`)
  })

  it("Jenkins: the Jenkinsfile's environment and sh step", async () => {
    const { lang, code } = readmeSnippet('Jenkins')
    expect(lang).toBe('groovy')
    const environment = Object.fromEntries(
      [...code.matchAll(/^\s+([A-Z_]+) = '([^']*)'$/gm)].map(m => [m[1], m[2]])
    )
    expect(Object.keys(environment)).toEqual(['CONVOX_BUILD_APP', 'CONVOX_BUILD_BUILD_ARGS'])
    const scripts = [...code.matchAll(/^\s+sh '([^']*)'$/gm)].map(m => m[1] ?? '')
    expect(scripts).toHaveLength(1)
    const cwd = await app('jenkins')
    const ci = machine({
      JENKINS_URL: 'https://ci.example.com/',
      BUILD_URL: 'https://ci.example.com/job/myapp/5/',
      GIT_COMMIT: HEAD,
      GIT_BRANCH: 'origin/main',
      ...environment
    })
    await bash(scripts.join('\n'), cwd, ci)
    const values = await built(cwd)
    expect(JSON.parse(values.PLAN ?? '')).toMatchObject({ app: 'myapp', gitSha: HEAD })
    for (const f of /artifacts: '([^']*)'/.exec(code)?.[1]?.split(/,\s*/) ?? []) {
      expect(existsSync(path.join(cwd, f))).toBe(true)
    }
  })

  it('Azure Pipelines: the script steps, the release id as a pipeline variable', async () => {
    const steps = parse(readmeSnippet('Azure Pipelines').code).steps as Record<string, string>[]
    const cwd = await app('azure')
    const ci = machine({
      TF_BUILD: 'True',
      BUILD_BUILDURI: 'vstfs:///Build/Build/310',
      BUILD_SOURCEVERSION: HEAD,
      BUILD_SOURCEVERSIONMESSAGE: 'Fix login',
      BUILD_SOURCEBRANCH: 'refs/heads/main'
    })
    let out = ''
    for (const step of steps.filter(s => s.script))
      out += (await bash(step.script ?? '', cwd, ci)).stdout
    const values = await built(cwd)
    expect(JSON.parse(values.PLAN ?? '')).toMatchObject({
      gitSha: HEAD,
      description: 'build 0123456789 Fix login'
    })
    expect(out).toContain(`##vso[task.setvariable variable=RELEASE_ID]${values.RELEASE_ID}`)
    const published = steps.find(s => s.publish)?.publish ?? ''
    expect(existsSync(path.join(cwd, published))).toBe(true)
  })
})
