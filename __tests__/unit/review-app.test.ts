// A pull request's review app: its name (a namespace provider/k8s accepts, Provider.AppNamespace
// `<rack>-<app>` within a DNS label's 63 characters), the check before deleting, review-env,
// the one comment's Markdown, and the CI facts it is decided from (src/ci github.ts, gitlab.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from '@jest/globals'
import type { PipelineResult } from '../../src/core/pipeline/index.js'
import { reviewComment, reviewMarker } from '../../src/core/review/comment.js'
import {
  endpointUrls,
  environmentText,
  isReviewAppOf,
  parseReviewEnv,
  reviewAppName
} from '../../src/core/review/review-app.js'
import { Redactor } from '../../src/core/secrets.js'
import { readCiWithoutCheckout } from '../helpers/ci-cases.js'

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/

describe('reviewAppName', () => {
  it('is <app>-pr-<number> when the namespace fits', () => {
    expect(reviewAppName('myapp', '7', 'realrack')).toBe('myapp-pr-7')
  })

  it('cuts a long app name and keeps a short hash of the full name, within 63 with the rack', () => {
    const app = 'a'.repeat(40) + '-service-with-a-long-name'
    const name = reviewAppName(app, '1234', 'production-rack')
    expect(`production-rack-${name}`.length).toBeLessThanOrEqual(63)
    expect(`production-rack-${name}`).toMatch(DNS_LABEL)
    expect(name).toMatch(/^a+-[0-9a-f]{6}-pr-1234$/)
    // the same every run, another for another pull request or app
    expect(reviewAppName(app, '1234', 'production-rack')).toBe(name)
    expect(reviewAppName(app, '1235', 'production-rack')).not.toBe(name)
    expect(reviewAppName(`${app}x`, '1234', 'production-rack')).not.toBe(name)
  })

  it('refuses what is not a pull request number', () => {
    expect(() => reviewAppName('myapp', '../x', 'r')).toThrow(
      'input "review": "../x" is not a pull request number'
    )
  })

  it('is the review app of its pull request only, never the base app', () => {
    expect(isReviewAppOf('myapp-pr-7', 'myapp', '7', 'r')).toBe(true)
    expect(isReviewAppOf('myapp', 'myapp', '7', 'r')).toBe(false)
    expect(isReviewAppOf('myapp-pr-8', 'myapp', '7', 'r')).toBe(false)
  })
})

describe('review-urls', () => {
  it("are the services' endpoints ServiceList tells, as https links; others left out", () => {
    expect(
      endpointUrls([
        { name: 'web', domain: 'web.app-pr-7.r.example.org' },
        { name: 'worker', domain: '' },
        { name: 'evil', domain: 'x.org/<script>' }
      ])
    ).toEqual({ web: 'https://web.app-pr-7.r.example.org' })
  })
})

describe('review-env', () => {
  it('reads KEY=VALUE lines, values verbatim, the last one winning', () => {
    expect(parseReviewEnv(['A=1', '', 'B= x=y ', 'A=2'])).toEqual({ A: '2', B: ' x=y ' })
    expect(environmentText({ B: '2', A: '1' })).toBe('A=1\nB=2')
  })

  it('names the bad line, never its value', () => {
    expect(() => parseReviewEnv(['A=1', 'no-equals-sekrit'])).toThrow(
      'input "review-env": line 2 is not KEY=VALUE (a KEY of letters, digits and _)'
    )
    let message = ''
    try {
      parseReviewEnv(['1BAD=sekrit'])
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toBe(
      'input "review-env": line 1 is not KEY=VALUE (a KEY of letters, digits and _)'
    )
  })
})

describe('the comment', () => {
  const result = (review: PipelineResult['review']): PipelineResult =>
    ({
      buildId: 'BABCDEFGHIJ',
      releaseId: 'RABCDEFGHIJ',
      images: { web: 'reg/app-pr-7:web.BABCDEFGHIJ', 'x|y': 'img`<b>' },
      digests: { web: 'sha256:abc' },
      review
    }) as unknown as PipelineResult

  it('starts with the hidden marker and names the app, build, release, images, digests, links', () => {
    const body = reviewComment(
      result({
        app: 'app-pr-7',
        base: 'app',
        pullRequest: '7',
        state: 'deployed',
        urls: { web: 'https://web.app-pr-7.example.org' }
      }),
      new Redactor(),
      'https://github.com/acme/app/actions/runs/1'
    )
    expect(body.split('\n')[0]).toBe(reviewMarker('app'))
    expect(body).toContain('`app-pr-7`')
    expect(body).toContain('`BABCDEFGHIJ`')
    expect(body).toContain('`RABCDEFGHIJ`')
    expect(body).toContain(
      '| `web` | `reg/app-pr-7:web.BABCDEFGHIJ` | `sha256:abc` | <https://web.app-pr-7.example.org> |'
    )
    // outside text cannot end its span, open a tag or split the table row
    expect(body).toContain("| `x\\|y` | `img'<b>` |")
    expect(body).toContain('[The run](<https://github.com/acme/app/actions/runs/1>)')
  })

  it('says the app is gone on close, and is empty for a skipped run; secrets redacted', () => {
    const secrets = new Redactor(['app-pr-7'])
    const closed = reviewComment(
      result({ app: 'app-pr-7', base: 'app', pullRequest: '7', state: 'deleted', urls: {} }),
      secrets
    )
    expect(closed).toContain('is deleted')
    expect(closed).not.toContain('app-pr-7')
    expect(
      reviewComment(
        result({ app: '', base: 'app', pullRequest: '7', state: 'skipped', urls: {} }),
        secrets
      )
    ).toBe('')
  })
})

describe('the CI facts a review app is decided from', () => {
  const read = readCiWithoutCheckout

  it("GitHub: the pull_request event's action and whether its head is a fork", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'review-event-'))
    try {
      const github = async (payload: unknown) => {
        const file = path.join(dir, `${Math.random()}.json`)
        await writeFile(file, JSON.stringify(payload))
        return read({
          GITHUB_ACTIONS: 'true',
          GITHUB_EVENT_NAME: 'pull_request',
          GITHUB_EVENT_PATH: file,
          GITHUB_REPOSITORY: 'acme/app',
          GITHUB_SHA: '1'.repeat(40)
        })
      }
      const base = { full_name: 'acme/app', id: 1 }
      const own = await github({
        action: 'closed',
        number: 9,
        pull_request: { number: 9, head: { sha: 'f'.repeat(40), repo: base } },
        repository: base
      })
      expect([own.pullRequest, own.pullRequestAction, own.fromFork]).toEqual(['9', 'closed', false])
      const fork = await github({
        action: 'opened',
        number: 9,
        pull_request: {
          number: 9,
          head: { sha: 'f'.repeat(40), repo: { full_name: 'm/app', id: 2 } }
        },
        repository: base
      })
      expect([fork.pullRequestAction, fork.fromFork]).toEqual(['opened', true])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("GitLab: a merge request pipeline, a fork's when the source project is another", async () => {
    const mr = {
      GITLAB_CI: 'true',
      CI_COMMIT_SHA: 'a'.repeat(40),
      CI_MERGE_REQUEST_IID: '5',
      CI_MERGE_REQUEST_PROJECT_ID: '10',
      CI_PROJECT_ID: '10'
    }
    const own = await read({ ...mr, CI_MERGE_REQUEST_SOURCE_PROJECT_ID: '10' })
    expect([own.isPullRequest, own.pullRequest, own.fromFork]).toEqual([true, '5', false])
    const fork = await read({ ...mr, CI_MERGE_REQUEST_SOURCE_PROJECT_ID: '11' })
    expect(fork.fromFork).toBe(true)
    // GitLab starts no pipeline when a merge request closes: its review environment's stop job
    // (environment: action: stop, run by on_stop) is the close
    expect(own.pullRequestAction).toBe('')
    const stop = await read({ ...mr, CI_ENVIRONMENT_ACTION: 'stop' })
    expect(stop.pullRequestAction).toBe('closed')
    const noMr = await read({
      GITLAB_CI: 'true',
      CI_COMMIT_SHA: 'a'.repeat(40),
      CI_ENVIRONMENT_ACTION: 'stop'
    })
    expect(noMr.pullRequestAction).toBe('')
  })
})
