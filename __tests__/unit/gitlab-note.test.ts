// The review app's merge request note on GitLab, against a stand-in GitLab API v4 on loopback
// that records what it was sent: created once, then edited, on close saying the app is gone, the
// token in PRIVATE-TOKEN only; and one CLI run on a merge request pipeline writing it.
import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { gitlab } from '../../src/ci/gitlab.js'
import { upsertReviewNote } from '../../src/ci/gitlab-note.js'
import { runCli } from '../../src/cli/run.js'
import type { PipelineResult, ReviewReport } from '../../src/core/pipeline/index.js'
import { reviewMarker } from '../../src/core/review/comment.js'
import { Redactor } from '../../src/core/secrets.js'
import { HEAD } from '../helpers/ci-cases.js'
import { startGitLabApi, type GitLabStandIn } from '../helpers/gitlab-api.js'

const PROJECT = '4242'
const IID = 7
let api: GitLabStandIn
let token: string

beforeEach(async () => {
  api = await startGitLabApi(PROJECT)
  token = `glpat-${randomBytes(10).toString('hex')}`
})
afterEach(() => api.close())

const result = (state: ReviewReport['state']): PipelineResult =>
  ({
    plan: {
      app: 'myapp-pr-7',
      buildId: 'BABCDEFGHIJ',
      manifest: 'convox.yml',
      gitSha: HEAD,
      description: '',
      development: false,
      services: [],
      builds: []
    },
    buildId: 'BABCDEFGHIJ',
    releaseId: 'RABCDEFGHIJ',
    images: { web: 'reg/myapp-pr-7:web.BABCDEFGHIJ' },
    digests: { web: 'sha256:abc' },
    services: [],
    exportPath: '',
    warnings: [],
    buildArgNames: [],
    stage: 'all',
    matrix: { include: [] },
    platforms: '',
    durationMs: 20,
    review: { app: 'myapp-pr-7', base: 'myapp', pullRequest: String(IID), state, urls: {} }
  }) as unknown as PipelineResult

const env = (): NodeJS.ProcessEnv => ({
  CI_API_V4_URL: api.url,
  CI_PROJECT_ID: PROJECT,
  CI_MERGE_REQUEST_IID: String(IID)
})

const write = (state: ReviewReport['state']): Promise<string> =>
  upsertReviewNote(result(state), new Redactor([token]), { token, env: env(), runUrl: '' })

const notesPath = `/api/v4/projects/${PROJECT}/merge_requests/${IID}/notes`

function expectTokenOnlyInHeader(): void {
  for (const r of api.requests) {
    expect(r.token).toBe(token)
    expect(`${r.path} ${r.otherHeaders} ${r.body}`).not.toContain(token)
  }
}

describe('upsertReviewNote', () => {
  it('opened: one POST; the next run: one PUT of the same note; closed: the app is gone', async () => {
    expect(await write('deployed')).toBe('created')
    expect(api.requests.map(r => `${r.method} ${r.path}`)).toEqual([
      `GET ${notesPath}?per_page=100&page=1`,
      `POST ${notesPath}`
    ])
    const [other, ours] = api.notes.get(IID)!
    expect(other!.body).toBe('LGTM')
    expect(ours!.body.split('\n')[0]).toBe(reviewMarker('myapp'))
    expect(ours!.body).toContain('`RABCDEFGHIJ`')

    api.requests.length = 0
    expect(await write('deployed')).toBe('updated')
    expect(api.requests.map(r => `${r.method} ${r.path}`)).toEqual([
      `GET ${notesPath}?per_page=100&page=1`,
      `PUT ${notesPath}/${ours!.id}`
    ])

    expect(await write('deleted')).toBe('updated')
    expect(api.notes.get(IID)).toHaveLength(2)
    expect(api.notes.get(IID)![1]!.body).toContain(
      'was closed: the review app `myapp-pr-7` is deleted'
    )
    expect(api.requests.filter(r => r.method === 'POST')).toHaveLength(0)
    expectTokenOnlyInHeader()
  })

  it('writes nothing without a token or a review', async () => {
    expect(
      await upsertReviewNote(result('deployed'), new Redactor(), {
        token: '',
        env: env(),
        runUrl: ''
      })
    ).toBe('')
    expect(await write('skipped')).toBe('')
    expect(api.requests).toEqual([])
  })

  it('a note that cannot be written only warns, without the token', async () => {
    const warnings: string[] = []
    const logger = { info: () => {}, warning: (m: string) => warnings.push(m) }
    await gitlab.publish!({
      app: 'myapp-pr-7',
      result: result('deployed'),
      gitlabToken: token,
      outputs: {},
      outcome: 'success',
      env: { ...env(), CI_PROJECT_ID: '999' },
      exec: (() => {
        throw new Error('no exec')
      }) as never,
      logger: logger as never,
      secrets: new Redactor([token])
    })
    expect(warnings).toEqual([
      "could not write the review app's merge request note (gitlab-token needs api scope): GET /api/v4/projects/999/merge_requests/7/notes: HTTP 404"
    ])
    expectTokenOnlyInHeader()
  })
})

describe('the CLI on a merge request pipeline', () => {
  let work: string
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'gitlab-note-'))
    await cp(path.resolve('examples'), path.join(work, 'app'), { recursive: true })
  })
  afterAll(() => rm(work, { recursive: true, force: true }))

  it('writes the note with $CONVOX_BUILD_GITLAB_TOKEN, shown nowhere', async () => {
    let out = ''
    const code = await runCli(['build', '--app', 'myapp', '--review'], {
      stdout: t => (out += t),
      stderr: t => (out += t),
      env: {
        PATH: process.env.PATH,
        GIT_CEILING_DIRECTORIES: tmpdir(),
        GITLAB_CI: 'true',
        CI_COMMIT_SHA: HEAD,
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature',
        CI_JOB_URL: 'https://gitlab.example.com/acme/myapp/-/jobs/2000',
        ...env(),
        CONVOX_BUILD_GITLAB_TOKEN: token
      },
      cwd: path.join(work, 'app'),
      signals: false,
      pipeline: async () => result('deployed')
    })
    expect(code).toBe(0)
    expect(out).toContain(`Review app note created on merge request !${IID}`)
    expect(out).not.toContain(token)
    expect(api.requests.map(r => r.method)).toEqual(['GET', 'POST'])
    expect(api.notes.get(IID)![1]!.body).toContain(
      '[The run](<https://gitlab.example.com/acme/myapp/-/jobs/2000>)'
    )
    expectTokenOnlyInHeader()
  })
})
