// Randomised: whatever the manifest text, Dockerfile and build-args lines, the loader either
// plans or throws our UserError (with problems), never anything else.
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { stringify } from 'yaml'
import { parseBuildArgs } from '../../src/core/build-args.js'
import {
  imageStages,
  parseDockerfile,
  resolveFrom,
  scanDockerfile
} from '../../src/core/dockerfile.js'
import { UserError } from '../../src/core/errors.js'
import { silentLogger } from '../../src/core/log.js'
import { parseManifest } from '../../src/core/manifest.js'
import { createPlan } from '../../src/core/plan.js'
import { readSettings } from '../../src/core/settings.js'

const piece = fc.oneof(
  fc.constantFrom(
    '.',
    'app',
    '../x',
    '/abs',
    'Dockerfile',
    'redis:7',
    'redis:-x',
    '${A}',
    '${B:-c}',
    '${}',
    '*a',
    '&a',
    '<<',
    '"<<"',
    'on',
    'labels',
    'agent',
    'resources',
    'balancers',
    'budget',
    'timers',
    'scale',
    'port',
    '{min: 1, max: 3, autoscale: {cpu: {threshold: 50}}}',
    '~',
    'null',
    'yes',
    '1.0',
    '"',
    "'",
    '- ',
    ': ',
    '\t',
    '\n',
    '{',
    '[',
    '#'
  ),
  fc.string({ maxLength: 6 })
)
const scalar = fc.array(piece, { maxLength: 4 }).map(p => p.join(''))
const buildValue = fc.oneof(
  scalar,
  fc.record({ path: scalar, manifest: scalar }, { requiredKeys: [] }),
  fc.constant(null),
  fc.array(scalar, { maxLength: 2 })
)
const service = fc.oneof(
  fc.constant(null),
  fc.record({ build: buildValue, image: scalar, port: fc.integer() }, { requiredKeys: [] }),
  scalar
)
const serviceName = fc.oneof(
  fc.constantFrom('web', 'worker', 'Bad', '1', 'a-b'),
  fc.string({ maxLength: 5 })
)
const structured = fc
  .record(
    { services: fc.oneof(fc.dictionary(serviceName, service, { maxKeys: 4 }), scalar) },
    { requiredKeys: [] }
  )
  .map(o => stringify(o))
/** Structured manifests, then mangled: cut, with random text spliced in. */
const manifestText = fc.oneof(
  structured,
  fc
    .tuple(structured, fc.nat(), scalar)
    .map(([t, at, s]) => t.slice(0, at % (t.length + 1)) + s + t.slice(at % (t.length + 1))),
  fc.array(piece, { maxLength: 30 }).map(p => p.join(''))
)
const argLine = fc.oneof(
  fc.constantFrom(
    'BUILD_AUTH',
    'BUILD_ID',
    'A=1',
    'A',
    'HOME',
    '=',
    'A==',
    ' B=2 ',
    'constructor',
    '__proto__=1'
  ),
  fc.string({ maxLength: 12 })
)
const env = { A: 'app', HOME: '/h' }

/** Throws unless fn returns or throws a UserError whose problems have valid positions. */
function onlyUserError(fn: () => unknown): void {
  try {
    fn()
  } catch (e) {
    if (!(e instanceof UserError)) throw e
    const bad = e.problems.filter(
      p =>
        p.message === '' ||
        (p.line !== undefined && p.line < 1) ||
        (p.col !== undefined && p.col < 1)
    )
    if (e.problems.length === 0 || bad.length > 0)
      throw new Error(`bad problems: ${e.message}`, { cause: e })
  }
}

describe('loader fuzz', () => {
  it('parseManifest throws nothing but UserError', () => {
    expect(() =>
      fc.assert(
        fc.property(manifestText, text =>
          onlyUserError(() =>
            parseManifest(text, { file: 'convox.yml', env, logger: silentLogger })
          )
        ),
        { numRuns: 1500 }
      )
    ).not.toThrow()
  })

  it('parseBuildArgs throws nothing but UserError', () => {
    expect(() =>
      fc.assert(
        fc.property(fc.array(argLine, { maxLength: 8 }), lines =>
          onlyUserError(() =>
            parseBuildArgs(lines, { env, managed: n => n.toLowerCase(), logger: silentLogger })
          )
        ),
        { numRuns: 1500 }
      )
    ).not.toThrow()
  })

  it('scanDockerfile never throws', () => {
    const line = fc.oneof(
      fc.constantFrom(
        '# escape=`',
        '# escape=x',
        '# syntax=a',
        'FROM a AS b',
        'ARG A B=1',
        'ARG "x',
        'RUN <<EOF',
        'EOF',
        '\\',
        '`',
        '',
        '#'
      ),
      fc.string({ maxLength: 10 })
    )
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), lines => {
        const r = scanDockerfile(lines.join('\n'))
        expect(Array.isArray(r.args)).toBe(true)
      }),
      { numRuns: 1500 }
    )
  })

  it('parseDockerfile gives a model or positioned problems, never a throw', () => {
    const line = fc.oneof(
      fc.constantFrom(
        '# escape=`',
        '# syntax=',
        'FROM a AS b',
        'FROM ${B:-a} AS c',
        'FROM b',
        'ARG B=x',
        'ARG "Q"=1',
        'ONBUILD RUN <<EOF',
        'RUN <<-A <<B',
        'RUN ["a", 1]',
        'COPY --from=b <<EOF /x',
        'EOF',
        '\tA',
        'B',
        'RUN x \\',
        '`',
        ''
      ),
      fc.string({ maxLength: 12 })
    )
    fc.assert(
      fc.property(fc.array(line, { maxLength: 14 }), fc.boolean(), (lines, crlf) => {
        const m = parseDockerfile(lines.join(crlf ? '\r\n' : '\n'))
        for (const p of m.problems) {
          expect(p.line).toBeGreaterThanOrEqual(1)
          expect(p.message).not.toBe('')
        }
        for (const s of m.stages) resolveFrom(m, s, { B: 'b' })
        expect(imageStages(m, 'b').length).toBeLessThanOrEqual(m.stages.length)
      }),
      { numRuns: 2000 }
    )
  })

  it('createPlan on disk throws nothing but UserError', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-'))
    fs.mkdirSync(path.join(root, 'app'))
    fs.writeFileSync(path.join(root, 'Dockerfile'), 'FROM a AS development\nARG A BUILD_AUTH\n')
    fs.writeFileSync(path.join(root, 'app/Dockerfile'), '# escape=x\nFROM a\n')
    const settingsFor = (lines: string[]) =>
      readSettings(
        n => (n === 'build-args' ? lines.join('\n') : n === 'development' ? 'true' : ''),
        {
          env: {},
          cwd: root
        }
      )
    await expect(
      fc.assert(
        fc.asyncProperty(manifestText, fc.array(argLine, { maxLength: 5 }), async (text, lines) => {
          fs.writeFileSync(path.join(root, 'convox.yml'), text)
          let settings
          try {
            settings = settingsFor(lines)
          } catch (e) {
            if (e instanceof UserError) return
            throw e
          }
          try {
            await createPlan(settings, { env, gitSha: 'abc', description: 'd' }, silentLogger)
          } catch (e) {
            if (!(e instanceof UserError)) throw e
          }
        }),
        { numRuns: 400 }
      )
    ).resolves.toBeUndefined()
    fs.rmSync(root, { recursive: true, force: true })
  })
})
