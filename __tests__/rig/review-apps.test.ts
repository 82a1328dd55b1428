// Review apps end to end: the bundle run as the runner runs it, through a pull request's
// opened, synchronize and closed events, against Convox's own rack API (realrack: its AppCreate,
// ReleaseCreate with env, promote and AppDelete) and a stand-in GitHub API on loopback that
// records what it was sent. And a fork's pull request without secrets.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { RackClient } from '../../src/core/rack/index.js'
import { parseEnvironment } from '../../src/core/rack/app.js'
import { Redactor } from '../../src/core/secrets.js'
import {
  bundleToTemp,
  HEAD_SHA,
  runAction,
  shownLines,
  type RunnerRun
} from '../helpers/action-runner.js'
import { startGitHubApi, type GitHubStandIn } from '../helpers/github-api.js'
import { rigInputs } from '../helpers/pipeline.js'
import { startRealRack, type RealRack } from '../helpers/realrack.js'
import { loadRig, rigEnv, type Rig } from '../helpers/rig.js'

const REPO = 'acme/convox-example'
const secret = (name: string): string => `${name}-${randomBytes(8).toString('hex')}`
const TOKEN = secret('ghs')
const BASE_ONLY = secret('base-only')
const OVERRIDE = secret('review-override')

let rig: Rig
let work: string
let dist: string
let appDir: string
let rr: RealRack
let gh: GitHubStandIn

beforeAll(async () => {
  rig = loadRig()
  ;({ work, dist } = bundleToTemp('review-'))
  appDir = await mkdtemp(path.join(work, 'app-'))
  await writeFile(path.join(appDir, 'Dockerfile'), 'FROM busybox:1.36\nRUN date > /built\n')
  await writeFile(
    path.join(appDir, 'convox.yml'),
    'services:\n  web:\n    build: .\n    port: 3000\n'
  )
  rr = await startRealRack(rig, { flags: ['-atom-delay', '1s'] })
  // The base app's env, as `convox env set` leaves it: its latest release's.
  await rack().releaseCreate(rr.app, { env: `BASE_ONLY=${BASE_ONLY}\nSHARED=base-value` })
  gh = await startGitHubApi(REPO)
}, 300_000)
afterAll(async () => {
  await rr?.stop()
  await gh?.close()
  if (work) await rm(work, { recursive: true, force: true })
})

function rack(): RackClient {
  return new RackClient({ rackUrl: rr.rackUrl, secrets: new Redactor() })
}

function event(action: string, fork = false): Record<string, unknown> {
  const base = { full_name: REPO, id: 1 }
  return {
    action,
    number: 7,
    pull_request: {
      number: 7,
      head: {
        sha: HEAD_SHA,
        ref: 'feature',
        repo: fork ? { full_name: 'mallory/convox-example', id: 2 } : base
      },
      base: { ref: 'main', repo: base }
    },
    repository: base
  }
}

const action = (ev: Record<string, unknown>, inputs: Record<string, string>): Promise<RunnerRun> =>
  runAction(
    'index.js',
    {
      ...rigInputs(rig),
      summary: 'true',
      cache: 'none',
      reuse: 'false',
      'working-directory': appDir,
      review: 'true',
      ...inputs
    },
    {
      dist,
      work,
      cwd: appDir,
      event: ev,
      env: rigEnv(rig, { GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: REPO }),
      timeoutMs: 240_000
    }
  )

const rackInputs = (): Record<string, string> => ({
  app: rr.app,
  'rack-url': rr.rackUrl,
  'review-env': `SHARED=${OVERRIDE}\n`,
  'github-token': TOKEN
})

/** No secret in what the run printed, set as outputs or wrote in the summary. */
function expectNoSecrets(r: RunnerRun): void {
  for (const s of [rr.password, TOKEN, OVERRIDE, BASE_ONLY, rig.registryPassword]) {
    // the runner's ::add-mask:: commands are how it learns them; it never shows them
    expect(shownLines(r.stdout).join('\n')).not.toContain(s)
    expect(JSON.stringify(r.outputs)).not.toContain(s)
    expect(r.summary).not.toContain(s)
  }
}

async function appStatus(name: string): Promise<number> {
  return (await rack().appFind(name)) ? 200 : 404
}

describe('review apps on a pull request', () => {
  const reviewApp = (): string => `${rr.app}-pr-7`

  it('opened: creates <app>-pr-7 with the app env and review-env, one build and release, promoted, one comment', async () => {
    const r = await action(event('opened'), rackInputs())
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout }).toEqual({
      status: 0,
      out: ''
    })
    expect(r.outputs['review-app']).toBe(reviewApp())
    expect(JSON.parse(r.outputs['review-urls'] ?? '')).toEqual({})

    const state = await rr.state()
    const builds = rr.buildsOf(state, reviewApp())
    const releases = rr.releasesOf(state, reviewApp())
    expect(builds.map(b => [b.status, b.release])).toEqual([['complete', r.outputs['release-id']]])
    expect(releases.map(x => x.id)).toEqual([r.outputs['release-id']])
    expect(parseEnvironment(releases[0]!.env ?? '')).toEqual({ BASE_ONLY, SHARED: OVERRIDE })
    const app = await rack().appGet(reviewApp())
    expect([app.status, app.release]).toEqual(['running', r.outputs['release-id']])
    // the base app is left as it was: no build of this run there
    expect(rr.buildsOf(state, rr.app)).toEqual([])

    const posts = gh.requests.filter(x => x.method === 'POST')
    expect(posts).toHaveLength(1)
    const [comment] = gh.comments.get(7) ?? []
    expect(comment?.body).toMatch(new RegExp(`^<!-- convox-build:review:${rr.app} -->\n`))
    expect(comment?.body).toContain(`\`${reviewApp()}\``)
    expect(comment?.body).toContain(`\`${r.outputs['build-id']}\``)
    expect(comment?.body).toContain(`\`${r.outputs['release-id']}\``)
    const digest = (JSON.parse(r.outputs.digests ?? '{}') as Record<string, string>).web ?? ''
    expect(digest).toMatch(/^sha256:/)
    expect(comment?.body).toContain(digest)
    expectNoSecrets(r)
  }, 300_000)

  it('synchronize: reuses the app, a second build and release, the same comment edited', async () => {
    const creates = (await rr.state()).calls.filter(c => c.method === 'POST' && c.path === '/apps')
    expect(creates).toHaveLength(1)
    const r = await action(event('synchronize'), rackInputs())
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout }).toEqual({
      status: 0,
      out: ''
    })
    const state = await rr.state()
    expect(state.calls.filter(c => c.method === 'POST' && c.path === '/apps')).toHaveLength(1)
    expect(rr.buildsOf(state, reviewApp())).toHaveLength(2)
    const releases = rr.releasesOf(state, reviewApp())
    expect(releases).toHaveLength(2)
    const latest = releases.find(x => x.id === r.outputs['release-id'])
    expect(parseEnvironment(latest?.env ?? '')).toEqual({ BASE_ONLY, SHARED: OVERRIDE })
    expect((await rack().appGet(reviewApp())).release).toBe(r.outputs['release-id'])

    expect(gh.requests.filter(x => x.method === 'POST')).toHaveLength(1)
    expect(gh.requests.filter(x => x.method === 'PATCH')).toHaveLength(1)
    expect(gh.comments.get(7)).toHaveLength(1)
    expect(gh.comments.get(7)?.[0]?.body).toContain(`\`${r.outputs['release-id']}\``)
    expectNoSecrets(r)
  }, 300_000)

  it('closed: deletes the review app, never the base app, builds nothing, the comment says so', async () => {
    const before = (await rr.state()).builds
    const r = await action(event('closed'), rackInputs())
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout }).toEqual({
      status: 0,
      out: ''
    })
    const state = await rr.state()
    expect(state.calls.filter(c => c.method === 'DELETE').map(c => c.path)).toEqual([
      `/apps/${reviewApp()}`
    ])
    expect(Object.keys(state.builds).filter(id => !(id in before))).toEqual([])
    expect(await appStatus(reviewApp())).toBe(404)
    expect(await appStatus(rr.app)).toBe(200)
    // deleting again (a retried DELETE) finds it gone: done, not an error
    await expect(rack().appDelete(reviewApp())).resolves.toBeUndefined()
    expect(r.outputs['build-id']).toBe('')

    expect(gh.requests.filter(x => x.method === 'POST')).toHaveLength(1)
    expect(gh.requests.filter(x => x.method === 'PATCH')).toHaveLength(2)
    expect(gh.comments.get(7)).toHaveLength(1)
    expect(gh.comments.get(7)?.[0]?.body).toContain('is deleted')
    // the token went to the GitHub API only, and with every request
    expect(
      gh.requests.every(
        x => /^(token|bearer) /i.test(x.authorization) && x.authorization.endsWith(TOKEN)
      )
    ).toBe(true)
    expect(JSON.stringify(state.calls)).not.toContain(TOKEN)
    expectNoSecrets(r)
  }, 300_000)
})

describe("a fork's pull request without secrets", () => {
  it('says so once, exits 0, and creates nothing anywhere', async () => {
    const calls = (await rr.state()).calls.length
    const requests = gh.requests.length
    const r = await action(event('opened', true), { app: rr.app })
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout }).toEqual({
      status: 0,
      out: ''
    })
    const notices = r.stdout.split('\n').filter(l => l.startsWith('::notice'))
    expect(notices).toHaveLength(1)
    expect(notices[0]).toContain('comes from a fork')
    expect(r.outputs['review-app']).toBe('')
    expect(r.outputs['build-id']).toBe('')
    expect((await rr.state()).calls.length).toBe(calls)
    expect(gh.requests.length).toBe(requests)
  }, 300_000)
})
