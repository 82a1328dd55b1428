// BuildKit's Dockerfile checks as the rig's buildkitd (v0.34.2) reports them in rawjson: parsed,
// mapped to the Dockerfile relative to the working directory, deduplicated, and turned into the
// build arg that makes them fail the build or skips them. The summary's section: summary.test.ts.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from '@jest/globals'
import { codeQualityReport } from '../../src/cli/code-quality.js'
import { buildctlCommand } from '../../src/core/engine/buildctl.js'
import { buildxCommand } from '../../src/core/engine/buildx.js'
import { ProgressReader, type BuildCheck } from '../../src/core/engine/progress.js'
import { checkAt, checkProblem } from '../../src/core/engine/run-build.js'
import { buildCheckArg, type BuildRequest } from '../../src/core/engine/types.js'
import { annotationOf } from '../../src/action/logger.js'
import { formatProblem } from '../../src/core/errors.js'
import { Redactor } from '../../src/core/secrets.js'

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/build-checks')
const read = (name: string): ProgressReader => {
  const p = new ProgressReader()
  for (const l of readFileSync(path.join(FIXTURES, name), 'utf8').split('\n')) p.push(l)
  return p
}

// What the fixture Dockerfile (`FROM scratch as base`, `ENV API_KEY=x`, `CMD echo hi`) violates.
const EXPECTED = [
  {
    rule: 'FromAsCasing',
    message: "'as' and 'FROM' keywords' casing do not match",
    detail: "The 'as' keyword should match the case of the 'from' keyword",
    url: 'https://docs.docker.com/go/dockerfile/rule/from-as-casing/',
    source: 'Dockerfile',
    line: 1
  },
  {
    rule: 'SecretsUsedInArgOrEnv',
    message: 'Do not use ARG or ENV instructions for sensitive data (ENV "API_KEY")',
    detail: 'Sensitive data should not be used in the ARG or ENV commands',
    url: 'https://docs.docker.com/go/dockerfile/rule/secrets-used-in-arg-or-env/',
    source: 'Dockerfile',
    line: 2
  },
  {
    rule: 'JSONArgsRecommended',
    message:
      'JSON arguments recommended for CMD to prevent unintended behavior related to OS signals',
    detail:
      'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
    url: 'https://docs.docker.com/go/dockerfile/rule/json-args-recommended/',
    source: 'Dockerfile',
    line: 3
  }
]

describe('build checks in rawjson', () => {
  it.each(['buildctl-warn.rawjson', 'buildx-warn.rawjson', 'buildctl-error.rawjson'])(
    '%s: each check with its rule, line and file, not among the plain warnings',
    name => {
      const p = read(name)
      expect(p.checks).toEqual(EXPECTED)
      expect(p.warnings).toEqual([])
      expect(p.text()).toContain(
        "WARNING: FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)"
      )
    }
  )

  it('says a check repeated (another platform) once', () => {
    const p = read('buildctl-warn.rawjson')
    for (const l of readFileSync(path.join(FIXTURES, 'buildctl-warn.rawjson'), 'utf8').split('\n'))
      p.push(l)
    expect(p.checks).toHaveLength(3)
  })

  it('redacts secrets in what a check says', () => {
    const secrets = new Redactor()
    secrets.add('API_KEY')
    const p = new ProgressReader(undefined, secrets)
    for (const l of readFileSync(path.join(FIXTURES, 'buildctl-warn.rawjson'), 'utf8').split('\n'))
      p.push(l)
    expect(JSON.stringify(p.checks)).not.toContain('API_KEY')
    expect(p.checks[1]?.message).toContain('***')
  })
})

describe('a check at its Dockerfile', () => {
  const [check] = EXPECTED as [BuildCheck]
  it('names the Dockerfile relative to the working directory', () => {
    expect(checkAt(check, '/repo/app/svc/web/Dockerfile', '/repo/app')).toEqual({
      ...check,
      file: 'svc/web/Dockerfile'
    })
  })

  it('gives no file for another file BuildKit read, or one outside the working directory', () => {
    expect(checkAt(check, '/repo/app/Dockerfile.web', '/repo/app').file).toBeUndefined()
    expect(checkAt(check, '/elsewhere/Dockerfile', '/repo/app').file).toBeUndefined()
  })

  it('is a problem at file:line, titled with its rule, one line', () => {
    const p = checkProblem(checkAt(check, '/repo/app/svc/Dockerfile', '/repo/app'))
    expect(formatProblem(p)).toBe(
      "svc/Dockerfile:1: FromAsCasing: 'as' and 'FROM' keywords' casing do not match (https://docs.docker.com/go/dockerfile/rule/from-as-casing/)"
    )
    expect(annotationOf(p, 'convox-build', 'sub')).toEqual({
      title: 'FromAsCasing',
      file: 'sub/svc/Dockerfile',
      startLine: 1
    })
  })

  it('says its line in the text when its file is not known', () => {
    expect(formatProblem(checkProblem(check))).toBe(
      "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1) (https://docs.docker.com/go/dockerfile/rule/from-as-casing/)"
    )
  })

  it('is a code quality entry at its path and line, named by its rule', () => {
    const p = checkProblem(checkAt(check, '/repo/app/svc/Dockerfile', '/repo/app'))
    const report = JSON.parse(
      codeQualityReport(
        [{ ...p, severity: 'minor' }],
        { workingDirectory: '/repo/app', projectDir: '/repo' },
        new Redactor()
      )
    ) as Array<Record<string, unknown>>
    expect(report).toEqual([
      expect.objectContaining({
        check_name: 'FromAsCasing',
        severity: 'minor',
        location: { path: 'app/svc/Dockerfile', lines: { begin: 1 } }
      })
    ])
  })
})

describe('build-checks as the Dockerfile frontend build arg', () => {
  const req = (buildChecks?: BuildRequest['buildChecks'], args = {}): BuildRequest =>
    ({
      index: 0,
      spec: {
        contextPath: '/c',
        dockerfilePath: '/c/Dockerfile',
        argValues: args,
        target: null,
        services: ['web']
      },
      tags: [],
      output: { type: 'none' },
      cache: { imports: [], exports: [] },
      noCache: false,
      platforms: [],
      secrets: [],
      secretArgs: [],
      metadataFile: '/m.json',
      ...(buildChecks ? { buildChecks } : {})
    }) as unknown as BuildRequest

  it('is error=true for error, skip=all for off, nothing for warn', () => {
    expect(buildCheckArg(req('error'))).toBe('BUILDKIT_DOCKERFILE_CHECK=error=true')
    expect(buildCheckArg(req('off'))).toBe('BUILDKIT_DOCKERFILE_CHECK=skip=all')
    expect(buildCheckArg(req('warn'))).toBeUndefined()
    expect(buildCheckArg(req())).toBeUndefined()
  })

  it("leaves the build args' own BUILDKIT_DOCKERFILE_CHECK alone", () => {
    expect(buildCheckArg(req('off', { BUILDKIT_DOCKERFILE_CHECK: 'skip=FromAsCasing' }))).toBe(
      undefined
    )
  })

  it('is on both engines’ command lines', () => {
    expect(buildctlCommand(req('error'), 'unix:///b').args).toContain(
      'build-arg:BUILDKIT_DOCKERFILE_CHECK=error=true'
    )
    const buildx = buildxCommand(req('off'), '').args
    expect(buildx[buildx.indexOf('BUILDKIT_DOCKERFILE_CHECK=skip=all') - 1]).toBe('--build-arg')
    expect(buildctlCommand(req('warn'), 'unix:///b').args.join(' ')).not.toContain(
      'BUILDKIT_DOCKERFILE_CHECK'
    )
  })
})
