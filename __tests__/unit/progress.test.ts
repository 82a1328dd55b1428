import { describe, expect, it } from '@jest/globals'
import { isDockerfileStep, ProgressReader, type Step } from '../../src/core/engine/progress.js'
import { Redactor } from '../../src/core/secrets.js'

const b64 = (s: string): string => Buffer.from(s).toString('base64')
const line = (o: unknown): string => JSON.stringify(o)
const T0 = '2026-01-01T00:00:00.000Z'
const T1 = '2026-01-01T00:00:01.500Z'

const FROM_DONE = {
  digest: 'sha256:f',
  name: '[1/3] FROM docker.io/library/busybox:latest@sha256:1',
  started: T0,
  completed: T0
}

// Shapes as buildctl / buildx print them with --progress rawjson.
const stream = [
  line({
    vertexes: [{ digest: 'sha256:a', name: '[internal] load build definition from Dockerfile' }]
  }),
  line({
    vertexes: [
      {
        digest: 'sha256:a',
        name: '[internal] load build definition from Dockerfile',
        started: T0,
        completed: T0
      }
    ]
  }),
  line({ vertexes: [FROM_DONE] }),
  line({ vertexes: [{ ...FROM_DONE, cached: true }] }),
  line({ vertexes: [{ digest: 'sha256:r', name: '[2/3] RUN echo hi', started: T0 }] }),
  line({ statuses: [{ id: 'x', vertex: 'sha256:r', current: 1 }] }),
  line({ logs: [{ vertex: 'sha256:r', stream: 1, data: b64('hi\npart'), timestamp: T0 }] }),
  line({ logs: [{ vertex: 'sha256:r', stream: 1, data: b64('ial\n'), timestamp: T0 }] }),
  line({
    vertexes: [{ digest: 'sha256:r', name: '[2/3] RUN echo hi', started: T0, completed: T1 }]
  }),
  line({ vertexes: [{ digest: 'sha256:c', name: '[3/3] COPY a /a', cached: true }] }),
  line({
    vertexes: [
      { digest: 'sha256:c', name: '[3/3] COPY a /a', started: T0, completed: T0, cached: true }
    ]
  }),
  line({
    vertexes: [{ digest: 'sha256:e', name: 'exporting to image', started: T0, completed: T1 }]
  }),
  line({ warnings: [{ vertex: 'sha256:a', level: 1, short: b64('UndefinedVar: $X') }] })
]

describe('rawjson progress', () => {
  it('counts Dockerfile steps and the cached ones', () => {
    const p = new ProgressReader()
    stream.forEach(l => p.push(l))
    expect(p.counts()).toEqual({ cachedSteps: 2, totalSteps: 3 })
    expect(p.warnings).toEqual(['UndefinedVar: $X'])
  })

  it('prints numbered readable lines with the run output', () => {
    const p = new ProgressReader()
    stream.forEach(l => p.push(l))
    const text = p.text()
    expect(text).toContain('#3 [2/3] RUN echo hi\n#3 hi\n#3 partial\n#3 DONE 1.5s')
    expect(text).toContain('#4 CACHED')
    expect(text).not.toContain('{')
  })

  it('calls onStep once per completed Dockerfile step', () => {
    const seen: string[] = []
    const p = new ProgressReader((s: Step) => seen.push(s.name))
    stream.forEach(l => p.push(l))
    expect(seen).toEqual([
      '[1/3] FROM docker.io/library/busybox:latest@sha256:1',
      '[2/3] RUN echo hi',
      '[3/3] COPY a /a'
    ])
  })

  it('reports the failing step, not the cancelled ones nor the CLI wrapper', () => {
    const p = new ProgressReader()
    p.push(
      line({
        vertexes: [
          {
            digest: 'sha256:x',
            name: '[2/2] RUN exit 3',
            started: T0,
            completed: T1,
            error: 'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
          }
        ]
      })
    )
    p.push(
      line({
        vertexes: [
          {
            digest: 'sha256:y',
            name: '[1/2] RUN sleep 9',
            started: T0,
            completed: T1,
            error: 'context canceled'
          }
        ]
      })
    )
    p.push(
      'error: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    )
    expect(p.errorMessage()).toBe(
      'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    )
  })

  it('falls back to the CLI error line', () => {
    const p = new ProgressReader()
    p.push('some text')
    p.push('ERROR: failed to dial: connection refused')
    expect(p.errorMessage()).toBe('failed to dial: connection refused')
  })

  it('redacts secret values everywhere (BuildKit prints arg values in step names)', () => {
    const p = new ProgressReader(undefined, new Redactor(['s3cret']))
    p.push(
      line({
        vertexes: [
          { digest: 'sha256:z', name: '[1/1] RUN echo s3cret', started: T0, completed: T1 }
        ]
      })
    )
    p.push(line({ logs: [{ vertex: 'sha256:z', data: b64('s3cret\n') }] }))
    p.push('error: s3cret')
    expect(p.text()).not.toContain('s3cret')
    expect(p.errorMessage()).not.toContain('s3cret')
  })

  it('a cache not found on a first build is said to be expected, not an ERROR line', () => {
    const p = new ProgressReader()
    const name = 'importing cache manifest from 127.0.0.1:5050/app:web.buildcache'
    p.push(line({ vertexes: [{ digest: 'sha256:c', name, started: T0 }] }))
    p.push(
      line({
        vertexes: [
          {
            digest: 'sha256:c',
            name,
            started: T0,
            completed: T0,
            // As buildctl v0.34 prints it for a cache ref that does not exist yet.
            error:
              'failed to configure registry cache importer: 127.0.0.1:5050/app:web.buildcache: not found'
          }
        ]
      })
    )
    expect(p.text()).not.toMatch(/ERROR/)
    expect(p.text()).toContain(
      '#1 no cache to import yet (expected on a first build, which writes it): failed to configure registry cache importer'
    )
  })

  it('knows Dockerfile steps from internals', () => {
    expect(isDockerfileStep('[base 2/3] RUN x')).toBe(true)
    expect(isDockerfileStep('[internal] load metadata')).toBe(false)
    expect(isDockerfileStep('exporting cache to registry')).toBe(false)
  })
})
