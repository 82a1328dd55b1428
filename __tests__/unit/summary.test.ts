import { HtmlRenderer, Parser } from 'commonmark'
import { describe, expect, it } from '@jest/globals'
import type { BuildCheck } from '../../src/core/engine/index.js'
import type { PipelineResult } from '../../src/core/pipeline/index.js'
import type { ServiceReport } from '../../src/core/run-environment.js'
import type { PlannedService } from '../../src/core/plan.js'
import { renderSummary, shortDigest, SUMMARY_LIMIT } from '../../src/core/summary.js'
import { Redactor } from '../../src/core/secrets.js'

const SECRET = 'hunter2-registry-password'

/** A result the shape the pipeline returns: n services, pairs of them sharing a build. */
function resultWith(n: number, warnings: string[] = []): PipelineResult {
  const buildId = 'BABCDEFGHIJ'
  const planned: PlannedService[] = []
  const reports: ServiceReport[] = []
  for (let i = 0; i < n; i++) {
    const name = `service-with-a-long-name-${i}`
    const image = `registry.example.com/acme/a-rather-long-app-name:${name}.${buildId}`
    const isImage = i % 10 === 9
    const build = isImage ? null : Math.floor(i / 2)
    planned.push(
      isImage
        ? { name, image, build: null, from: 'redis:7-alpine' }
        : { name, image, build, context: `svc/${i}`, dockerfile: 'Dockerfile', args: ['VERSION'] }
    )
    reports.push({
      name,
      image,
      digest: `sha256:${String(i).padStart(64, 'a')}`,
      build,
      sharedWith: isImage ? [] : [`service-with-a-long-name-${i % 2 ? i - 1 : i + 1}`],
      cachedSteps: 3,
      totalSteps: 5,
      durationMs: 12_345
    })
  }
  return {
    plan: {
      app: 'myapp',
      buildId,
      manifest: 'convox.yml',
      gitSha: '0123456789abcdef0123456789abcdef01234567',
      description: 'build 0123456789 Fix login | and <b>tags</b>',
      development: false,
      services: planned,
      builds: Array.from({ length: Math.ceil(n / 2) }, (_, b) => ({
        context: `svc/${2 * b}`,
        dockerfile: 'Dockerfile',
        services: planned.filter(p => p.build === b).map(p => p.name),
        args: ['VERSION'],
        target: null
      }))
    },
    buildId,
    releaseId: 'RABCDEFGHIJ',
    images: Object.fromEntries(planned.map(s => [s.name, s.image])),
    digests: Object.fromEntries(reports.map(s => [s.name, s.digest])),
    services: reports,
    exportPath: '/tmp/build.tgz',
    warnings,
    buildArgNames: ['BUILD_AUTH', 'BUILD_GIT_SHA', 'VERSION'],
    stage: 'all',
    matrix: { include: [] },
    platforms: '',
    durationMs: 61_000
  }
}

/** The table rows of the services named `service-with-...` (text escaped for Markdown). */
const serviceRows = (text: string): string[] =>
  text.split('\n').filter(l => l.startsWith('| service\\-with'))

describe('job summary', () => {
  it('has the ids, one row per service and redacted build args', () => {
    const text = renderSummary({ result: resultWith(3), dryRun: false, secrets: new Redactor() })
    expect(text).toContain('`BABCDEFGHIJ`')
    expect(text).toContain('`RABCDEFGHIJ`')
    const rows = serviceRows(text)
    expect(rows).toHaveLength(3)
    expect(rows[0]).toBe(
      '| service\\-with\\-a\\-long\\-name\\-0 | `registry.example.com/acme/a-rather-long-app-name:service-with-a-long-name-0.BABCDEFGHIJ` | `sha256:aaaaaaaaaaaa` | #1 (shared with service\\-with\\-a\\-long\\-name\\-1) | 3/5 | built | 12.3s |'
    )
    expect(text).toContain('`BUILD_AUTH=***` `BUILD_GIT_SHA=***` `VERSION=***`')
    // Markdown and HTML in user text cannot break the table.
    expect(text).toContain('Fix login \\| and \\<b\\>tags\\<\\/b\\>')
  })

  it("names the review app and what became of it; a fork's skipped run says nothing of one", () => {
    const review = (state: 'deployed' | 'deleted' | 'skipped'): string =>
      renderSummary({
        result: {
          ...resultWith(1),
          review: { app: 'myapp-pr-7', base: 'myapp', pullRequest: '7', state, urls: {} }
        },
        dryRun: false,
        secrets: new Redactor()
      })
    expect(review('deployed')).toContain('**Review app:** `myapp-pr-7` built and promoted')
    expect(review('deleted')).toContain(
      '**Review app:** `myapp-pr-7` deleted (the pull request closed)'
    )
    expect(review('skipped')).not.toContain('Review app')
  })

  it('shows image services as copies and lists warnings', () => {
    const result = resultWith(10, ['build arg VERSION is not declared by any Dockerfile'])
    const text = renderSummary({ result, dryRun: false, secrets: new Redactor() })
    expect(text).toContain('| image `redis:7-alpine` | - |')
    expect(text).toContain(
      '### Warnings (1)\n\n- build arg VERSION is not declared by any Dockerfile'
    )
  })

  it('fits the 1 MiB step summary limit for a 50-service app, with every row', () => {
    const warnings = Array.from({ length: 50 }, (_, i) => `cache export failed for service ${i}`)
    const text = renderSummary({
      result: resultWith(50, warnings),
      dryRun: false,
      secrets: new Redactor()
    })
    expect(Buffer.byteLength(text)).toBeLessThan(SUMMARY_LIMIT)
    expect(serviceRows(text)).toHaveLength(50)
    expect(text).not.toMatch(/more (services )?not shown/)
  })

  it('stays under the limit for any size, saying what it left out', () => {
    const warnings = Array.from({ length: 20_000 }, (_, i) => `warning ${i} `.repeat(10))
    const text = renderSummary({
      result: resultWith(8_000, warnings),
      dryRun: false,
      secrets: new Redactor()
    })
    expect(Buffer.byteLength(text)).toBeLessThan(SUMMARY_LIMIT)
    expect(text).toMatch(/_\d+ more services not shown \(summary size limit\)\._/)
    expect(text).toMatch(/### Warnings \(20000\)/)
  })

  it('never contains a secret value, even one that leaked into a warning', () => {
    const result = resultWith(5, [`login to registry failed with password ${SECRET}`])
    const text = renderSummary({ result, dryRun: false, secrets: new Redactor([SECRET]) })
    expect(text).not.toContain(SECRET)
    expect(text).toContain('password \\*\\*\\*')
  })

  it('shows the planned services in a dry run, where nothing was built', () => {
    const result = resultWith(4)
    result.services = []
    result.digests = {}
    result.releaseId = ''
    const text = renderSummary({ result, dryRun: true, secrets: new Redactor() })
    expect(text).toContain('## convox-build: myapp (dry run)')
    expect(text).toContain('| `BABCDEFGHIJ` | - | 4 |')
    const rows = serviceRows(text)
    expect(rows).toHaveLength(4)
    expect(rows[3]).toBe(
      '| service\\-with\\-a\\-long\\-name\\-3 | `registry.example.com/acme/a-rather-long-app-name:service-with-a-long-name-3.BABCDEFGHIJ` | - | #2 (shared with service\\-with\\-a\\-long\\-name\\-2) | - | - | - |'
    )
  })

  it('shortens digests and scrubs longest secrets first', () => {
    expect(shortDigest('sha256:0123456789abcdef')).toBe('`sha256:0123456789ab`')
    expect(shortDigest('')).toBe('-')
    expect(new Redactor(['abc', 'abcdef']).redact('abcdef abc')).toBe('*** ***')
  })

  it('says which services were reused, and from which image', () => {
    const r = resultWith(3)
    r.services[0] = { ...r.services[0]!, reusedFrom: 'registry.example.com/acme/app:web.0123abcd' }
    const md = renderSummary({ result: r, dryRun: false, secrets: new Redactor() })
    expect(md).toContain('| Built or reused |')
    expect(md).toMatch(
      /service\\-with\\-a\\-long\\-name\\-0 .*\| reused from `registry\.example\.com\/acme\/app:web\.0123abcd` \|/
    )
    expect(md).toMatch(/service\\-with\\-a\\-long\\-name\\-1 .*\| built \|/)
  })
})

describe('job summary of a fan-out and of platforms', () => {
  it('names the stage, the legs of start and the platforms with their reason', () => {
    const result = resultWith(2)
    result.stage = 'start'
    result.matrix = { include: [{ services: 'web,worker' }, { services: 'api' }] }
    result.platforms = "linux/arm64 (the app's BuildArch)"
    const text = renderSummary({ result, dryRun: false, secrets: new Redactor() })
    expect(text).toContain('## convox-build: myapp (start stage)')
    expect(text).toContain('**Build legs** (2): `web,worker`, `api`')
    expect(text).toContain("**Platforms:** linux\\/arm64 \\(the app\\'s BuildArch\\)")
  })
})

describe('job summary: a build shared by many services', () => {
  /** A dry run's result: n services of one build (one Dockerfile), nothing reported yet. */
  function sharedBuild(n: number): PipelineResult {
    const result = resultWith(2)
    const names = Array.from({ length: n }, (_, i) => `s${i}`)
    result.plan.services = names.map(name => ({
      name,
      image: `r.example.com/app:${name}.BABCDEFGHIJ`,
      build: 0,
      context: '.',
      dockerfile: 'Dockerfile',
      args: []
    }))
    result.plan.builds = [
      { context: '.', dockerfile: 'Dockerfile', services: names, args: [], target: null }
    ]
    result.services = []
    return result
  }

  it('names five others in a row and counts the rest: rows do not grow with the services', () => {
    const text = renderSummary({ result: sharedBuild(3000), dryRun: true, secrets: new Redactor() })
    const rows = text.split('\n').filter(l => /^\| s\d+ \|/.test(l))
    expect(rows[0]).toContain('| #1 (shared with s1, s2, s3, s4, s5 and 2994 more) |')
    expect(rows[2]).toContain('| #1 (shared with s0, s1, s3, s4, s5 and 2994 more) |')
    expect(Math.max(...rows.map(r => r.length))).toBeLessThan(200)
  })

  it('names all of a few, from the build report when there is one', () => {
    const few = sharedBuild(3)
    expect(renderSummary({ result: few, dryRun: true, secrets: new Redactor() })).toContain(
      '| s1 | `r.example.com/app:s1.BABCDEFGHIJ` | - | #1 (shared with s0, s2) |'
    )
    few.services = few.plan.services.map(s => ({
      name: s.name,
      image: s.image,
      digest: '',
      build: 0,
      sharedWith: ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
      cachedSteps: 0,
      totalSteps: 0,
      durationMs: 0
    }))
    expect(renderSummary({ result: few, dryRun: false, secrets: new Redactor() })).toContain(
      '#1 (shared with a, b, c, d, e and 2 more)'
    )
  })
})

describe('job summary of hostile text', () => {
  const HOSTILE = [
    'x\r<h2>FAKE</h2>',
    '[a](http://evil)',
    '![i](http://evil/x.png)',
    '| a | b |',
    '# FAKE heading',
    '- [ ] fake item\n## FAKE',
    '`code` *em* _em_ &lt; <img src=x onerror=alert(1)>',
    '  1. <script>x</script>\u2028### FAKE',
    'a\\[b](http://evil)'
  ]
  const hostileResult = (text: string): PipelineResult => {
    const r = resultWith(2, [text])
    r.plan.app = `app ${text}`
    r.plan.description = text
    r.platforms = text
    r.exportPath = `/tmp/${text}`
    r.plan.services[0]!.name = text
    r.services[0]!.name = text
    r.services[0]!.reusedFrom = `img:${text}`
    r.services[1]!.sharedWith = [text]
    r.buildArgNames = [text]
    return r
  }

  /** Where `line` holds Markdown the summary did not write: an unescaped character of markup. */
  const unescaped = (line: string): string[] => {
    const found: string[] = []
    // code spans hold text literally; what is left is our markup and escaped text
    const outside = line.replace(/`[^`]*`/g, '``').replace(/^> /, '')
    for (let i = 0; i < outside.length; i++) {
      const c = outside[i] as string
      if (c === '\\') {
        i++
        continue
      }
      if ('<>[]!&_'.includes(c)) found.push(`${c} at ${i} of ${line}`)
    }
    return found
  }

  it.each(HOSTILE)('escapes %j wherever it goes', hostile => {
    const md = renderSummary({
      result: hostileResult(hostile),
      dryRun: false,
      secrets: new Redactor()
    })
    const lines = md.split(/\r\n|\r|\n|\u2028|\u2029/)
    const benign = renderSummary({
      result: hostileResult('x'),
      dryRun: false,
      secrets: new Redactor()
    })
    const benignLines = benign.split('\n')
    // no line break of its own
    expect(lines).toHaveLength(benignLines.length)
    expect(lines.filter(l => /^ {0,3}#/.test(l))).toEqual([
      expect.stringMatching(/^## convox-build: app /),
      '### Warnings (1)'
    ])
    // every table row keeps its cells
    const cells = (l: string): number => l.replace(/\\\|/g, '').split('|').length
    const rows = (ls: string[]): number[] => ls.map(l => (l.startsWith('|') ? cells(l) : 0))
    expect(rows(lines)).toEqual(rows(benignLines))
    for (const l of lines) expect(unescaped(l)).toEqual([])
    // as written, read back: the escapes hide nothing of it
    // eslint-disable-next-line no-control-regex -- control characters are what it replaces
    const shown = hostile.replace(/[\u0000-\u001f\u2028]+/g, ' ').trimStart()
    expect(md).toContain(`> ${shown.replace(/[!-/:-@[-`{-~]/g, '\\$&')}`)
  })

  it('leaves no HTML, heading, link or image to a CommonMark renderer', () => {
    for (const hostile of HOSTILE) {
      const html = renderHtml(
        renderSummary({ result: hostileResult(hostile), dryRun: false, secrets: new Redactor() })
      )
      expect(html.match(/<h\d/g)).toEqual(['<h2', '<h3'])
      expect(html).not.toMatch(/<a |<img|<script|<h2>FAKE/)
      // the one warning's item, no list made of the text
      expect(html.match(/<li>/g)).toEqual(['<li>'])
    }
  })

  it('redacts secrets before it escapes them', () => {
    const r = resultWith(1, [`password ${SECRET}!`])
    r.plan.description = `login ${SECRET}`
    const md = renderSummary({ result: r, dryRun: false, secrets: new Redactor([SECRET]) })
    expect(md).not.toContain(SECRET.replace(/-/g, '\\-'))
    expect(md).toContain('login \\*\\*\\*')
  })
})

/** commonmark.js, the CommonMark reference renderer: Markdown as GitHub and Buildkite render it. */
function renderHtml(md: string): string {
  return new HtmlRenderer().render(new Parser().parse(md))
}

describe('build checks in the summary', () => {
  it('has a Build checks section, each at file:line, escaped', () => {
    const hostile: BuildCheck = {
      rule: 'UndefinedVar',
      message: "Usage of undefined variable '$X' <img src=x onerror=alert(1)> | `x`",
      detail: '',
      url: 'https://docs.docker.com/go/dockerfile/rule/undefined-var/',
      source: 'Dockerfile',
      line: 4,
      file: 'svc/Dockerfile'
    }
    const result = { ...resultWith(1), checks: [hostile] }
    const text = renderSummary({ result, dryRun: false, secrets: new Redactor() })
    expect(text).toContain('### Build checks (1)')
    const html = new HtmlRenderer().render(new Parser().parse(text))
    expect(html).toContain('<code>svc/Dockerfile:4</code> <strong>UndefinedVar</strong>')
    expect(html).not.toContain('<img')
    expect(html).toContain('href="https://docs.docker.com/go/dockerfile/rule/undefined-var/"')
  })
})
