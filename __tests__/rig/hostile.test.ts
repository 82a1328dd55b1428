// The bundle end to end against hostile text and hostile servers, on the rig: repository text and
// a build's output read from the action's stdout as the runner reads it; a registry that sends a
// manifest without end, under a memory watch; kill -9 mid-build, then the next run.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { bundleToTemp, runAction, type RunnerRun } from '../helpers/action-runner.js'
import { flood, listenHostile, MiB } from '../helpers/hostile-server.js'
import { loadRig, rigCliEnv, rigCliFlags, rigEnv, uniqueRepo, type Rig } from '../helpers/rig.js'
import { descendants } from '../helpers/process-table.js'
import { runnerCommands } from '../helpers/workflow-commands.js'

let rig: Rig
let work: string
let dist: string

beforeAll(() => {
  rig = loadRig()
  ;({ work, dist } = bundleToTemp('hostile-'))
}, 300_000)
afterAll(() => rm(work, { recursive: true, force: true }))

async function writeApp(files: Record<string, string>): Promise<string> {
  const app = await mkdtemp(path.join(work, 'app-'))
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(app, name), text)
  return app
}

const action = (inputs: Record<string, string>, cwd: string): Promise<RunnerRun> =>
  runAction('index.js', inputs, { dist, work, cwd, env: rigEnv(rig), timeoutMs: 240_000 })

/** What the runner would act on that came from the hostile text (PWNED), and where. */
const pwned = (stdout: string): string[] =>
  runnerCommands(stdout)
    .filter(c => /PWNED/.test(c.line))
    // annotations and group titles carry text as escaped data: never a command of its own
    .filter(
      c =>
        /%0A|%0D/.test(c.line) === false || !['warning', 'error', 'group', 'debug'].includes(c.name)
    )
    .map(c => c.line)

describe('repository text and build output on the runner', () => {
  it('a Dockerfile path holding a newline and a command is shown, not obeyed (dry run)', async () => {
    const dockerfile = 'Dockerfile\n::warning::PWNED\n::stop-commands::x'
    const app = await writeApp({
      [dockerfile]: 'FROM busybox\n',
      'convox.yml': `services:\n  web:\n    build:\n      manifest: ${JSON.stringify(dockerfile)}\n`
    })
    const r = await action({ app: 'hostile', 'dry-run': 'true', 'working-directory': app }, app)
    expect(r.stdout).toContain('PWNED')
    expect(pwned(r.stdout)).toEqual([])
  })

  it('a RUN printing ::set-output, ::save-state and ::warning at a line start is relayed inert', async () => {
    const app = await writeApp({
      Dockerfile: [
        'FROM busybox',
        `RUN echo '::set-output name=x::PWNED' && echo '::save-state name=x::PWNED' && printf 'a\\r::warning::PWNED\\n' && echo '##[error]PWNED' && date > /now`,
        ''
      ].join('\n'),
      'convox.yml': 'services:\n  web:\n    build: .\n'
    })
    const r = await action(
      {
        app: 'hostile',
        'working-directory': app,
        registry: uniqueRepo('hostile-relay', rig),
        'registry-username': rig.registryUsername,
        'registry-password': rig.registryPassword,
        'docker-hub-registry': rig.hubRegistry,
        'docker-hub-username': rig.hubUsername,
        'docker-hub-password': rig.hubPassword,
        engine: 'buildctl',
        'buildkit-host': rig.buildkitHost,
        cache: 'none',
        reuse: 'false'
      },
      app
    )
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('::set-output name=x::PWNED')
    expect(pwned(r.stdout)).toEqual([])
    expect(r.state.x).toBeUndefined()
  })
})

/** A preload that writes the process's peak RSS (KiB) where RSS_FILE says, at exit. */
async function rssPreload(): Promise<string> {
  const file = path.join(work, 'rss-preload.cjs')
  await writeFile(
    file,
    "process.on('exit', () => require('fs').writeFileSync(process.env.RSS_FILE, String(process.resourceUsage().maxRSS)))\n"
  )
  return file
}

function cli(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  node: string[] = []
): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn(process.execPath, [...node, path.join(dist, 'cli.js'), ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout!.on('data', (b: Buffer) => void (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => void (out += b.toString()))
  const done = new Promise<{ code: number | null; out: string }>(resolve =>
    child.on('exit', code => resolve({ code, out }))
  )
  return { child, done }
}

describe('a registry that sends a manifest without end', () => {
  // The exit code is the failure's kind (core/errors.ts EXIT_CODES): the copy of an image:
  // service fails on the registry (3); past the reuse key's lookup, a FROM fails BuildKit's build (2).
  it.each([
    [
      'an image: service',
      (host: string) => ({ 'convox.yml': `services:\n  evil:\n    image: ${host}/evil:latest\n` }),
      3
    ],
    [
      "a Dockerfile's FROM",
      (host: string) => ({
        Dockerfile: `FROM ${host}/evil:latest\nRUN true\n`,
        'convox.yml': 'services:\n  web:\n    build: .\n'
      }),
      2
    ]
  ])(
    'through %s: one line naming host and manifest, and the CLI stays small',
    async (_what, files, exitCode) => {
      const hostile = await listenHostile((req, res) => {
        if (req.url === '/v2/') res.end('{}')
        else flood(res, 600 * MiB)
      })
      try {
        const app = await writeApp(files(hostile.host))
        const rssFile = path.join(work, `rss-${Date.now()}`)
        const run = cli(
          [
            'build',
            '--app',
            'hostile',
            '--registry',
            uniqueRepo('hostile-manifest', rig),
            '--registry-username',
            rig.registryUsername,
            ...rigCliFlags(rig)
          ],
          app,
          rigCliEnv(rig, {
            CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword,
            RSS_FILE: rssFile
          }),
          ['--max-old-space-size=200', '-r', await rssPreload()]
        )
        const { code, out } = await run.done
        expect(code).toBe(exitCode)
        expect(out).toContain(
          `registry ${hostile.host}: manifest of ${hostile.host}/evil:latest: answer larger than 4 MiB`
        )
        expect(out).not.toMatch(/\n\s+at /)
        expect(Number(readFileSync(rssFile, 'utf8'))).toBeLessThan(500 * 1024)
      } finally {
        await hostile.close()
      }
    }
  )
})

describe('kill -9 mid-build', () => {
  it('leaves files the next run removes, never those of a run still alive', async () => {
    const app = await writeApp({
      Dockerfile: `FROM busybox\nRUN echo ${Date.now()} && sleep 60\n`,
      'convox.yml': 'services:\n  web:\n    build: .\n'
    })
    const temp = path.join(work, 'tmp')
    await mkdir(temp)
    const env = rigCliEnv(rig, {
      CONVOX_BUILD_REGISTRY_PASSWORD: rig.registryPassword,
      TMPDIR: temp
    })
    const args = [
      'build',
      '--app',
      'killed',
      '--registry',
      uniqueRepo('hostile-kill', rig),
      '--registry-username',
      rig.registryUsername,
      '--cache',
      'none',
      '--reuse=false',
      ...rigCliFlags(rig)
    ]
    const configs = async (): Promise<string[]> => {
      const found: string[] = []
      for (const d of await readdir(temp)) {
        for (const e of await readdir(path.join(temp, d)).catch(() => [])) {
          if (e.startsWith('docker-config-')) found.push(path.join(temp, d, e, 'config.json'))
        }
      }
      return found
    }
    const until = async (n: number): Promise<string[]> => {
      for (;;) {
        const found = (await configs()).filter(f => existsSync(f))
        if (found.length >= n) return found
        await new Promise(r => setTimeout(r, 200))
      }
    }
    const killed = cli(args, app, env)
    const [dead] = await until(1)
    const live = cli(args, app, env)
    const both = await until(2)
    const alive = both.find(f => f !== dead) as string
    // A killed CLI leaves its engine running (its own process group): a runner ends the job's
    // whole tree, and so does the test, or the build holds BuildKit's records for later tests.
    const orphans = descendants(killed.child.pid!)
    killed.child.kill('SIGKILL')
    await killed.done
    for (const pid of orphans) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // ended by itself
      }
    }
    expect(readFileSync(dead as string, 'utf8')).toContain('auths')

    // the next run, however short (a plan)
    const next = await cli(['plan', ...args.slice(1)], app, env).done
    expect(next).toMatchObject({ code: 0 })
    expect(existsSync(path.dirname(path.dirname(dead as string)))).toBe(false)
    expect(readFileSync(alive, 'utf8')).toContain('auths')
    live.child.kill('SIGTERM')
    await live.done
  })
})
