// Every real manifest under __tests__/fixtures/manifests (sources in its SOURCES.md) loads to a
// plan, given its Dockerfiles (empty ones, created here) and the variables it interpolates. Those
// marked `invalid` either fail with positioned UserError problems or load.
import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { UserError } from '../../src/core/errors.js'
import { silentLogger } from '../../src/core/log.js'
import { parseManifest } from '../../src/core/manifest.js'
import { createPlan, planOutput } from '../../src/core/plan.js'
import { readSettings } from '../../src/core/settings.js'

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/manifests')
const files = fs
  .readdirSync(dir)
  .filter(f => f.endsWith('.yml'))
  .sort()

/**
 * Invalid ones that must fail: not a mapping, no `services` (typo), timers only, bad service
 * names. The other invalid ones are wrong in what the rack checks at release time (budget rules):
 * they load.
 */
const INVALID_FOR_BUILDS = new Set([
  'convox__convox__pkg_manifest_testdata_invalid.1.yml',
  'convox__convox__pkg_manifest_testdata_invalid.2.yml',
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule10a.yml',
  'convox__convox__pkg_manifest_testdata_validate__invalid.yml'
])

function envFor(text: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const m of text.matchAll(/\$\{([^}]*)\}/g)) env[m[1] ?? ''] = 'value'
  return env
}

/** A source tree holding the manifest and an empty Dockerfile wherever it builds. */
function sourceTree(file: string, text: string, env: NodeJS.ProcessEnv): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fixture-'))
  fs.writeFileSync(path.join(root, 'convox.yml'), text)
  try {
    for (const s of parseManifest(text, { file, env, logger: silentLogger }).services) {
      if (!s.build) continue
      const context = path.join(root, s.build.path)
      fs.mkdirSync(context, { recursive: true })
      const df = path.join(context, s.build.manifest)
      fs.mkdirSync(path.dirname(df), { recursive: true })
      if (!fs.existsSync(df)) fs.writeFileSync(df, '')
    }
  } catch (e) {
    if (!(e instanceof UserError)) throw e
  }
  return root
}

describe('fixture manifests', () => {
  it('has the ~100 fixtures and their SOURCES.md', () => {
    expect(files.length).toBeGreaterThanOrEqual(95)
    const sources = fs.readFileSync(path.join(dir, 'SOURCES.md'), 'utf8')
    for (const f of files) expect(sources).toContain(f)
  })

  async function planFixture(file: string) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8')
    const env = envFor(text)
    const root = sourceTree(file, text, env)
    const settings = readSettings(n => (n === 'registry' ? 'registry.test/acme/app' : ''), {
      env: { GITHUB_REPOSITORY: 'acme/app' },
      cwd: root
    })
    const warnings: string[] = []
    const logger = { ...silentLogger, warning: (m: string) => void warnings.push(m) }
    try {
      const plan = await createPlan(
        settings,
        { env, gitSha: 'f'.repeat(40), description: 'd', buildId: 'BAAAAAAAAAA' },
        logger
      ).catch((e: unknown) => e)
      return { plan, warnings }
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  }

  it.each(files.filter(f => !INVALID_FOR_BUILDS.has(f)))('%s plans', async file => {
    const { plan, warnings } = await planFixture(file)
    if (plan instanceof Error) throw plan
    const out = planOutput(plan as Awaited<ReturnType<typeof createPlan>>)
    expect(out.services.length).toBeGreaterThan(0)
    expect(out.services.map(s => s.image)).toEqual(
      out.services.map(s => `registry.test/acme/app:${s.name}.BAAAAAAAAAA`)
    )
    // Image services carry from; build services index a build tagged for them.
    expect(out.services.filter(s => s.build === null && !s.from)).toEqual([])
    expect(
      out.services.filter(s => s.build !== null && !out.builds[s.build]?.services.includes(s.name))
    ).toEqual([])
    // Every variable was set: no "is not set" warning.
    expect(warnings.filter(w => w.includes('is not set'))).toEqual([])
  })

  it.each([...INVALID_FOR_BUILDS])('%s fails with positioned problems', async file => {
    const { plan } = await planFixture(file)
    expect(plan).toBeInstanceOf(UserError)
    const problems = (plan as UserError).problems
    expect(problems.length).toBeGreaterThan(0)
    expect(
      problems.filter(p => p.file !== 'convox.yml' || !(p.line! >= 1) || !(p.col! >= 1))
    ).toEqual([])
  })
})

describe('a fixture manifest with its variables unset', () => {
  it('warns for each unset variable with its line and still plans where the result is valid', async () => {
    const file = 'convox__convox__pkg_manifest_testdata_full.yml'
    const text = fs.readFileSync(path.join(dir, file), 'utf8')
    const root = sourceTree(file, text, {})
    const settings = readSettings(() => '', { env: {}, cwd: root })
    const warnings: { message: string; line?: number; file?: string }[] = []
    const logger = {
      ...silentLogger,
      warning: (message: string, where?: { line?: number; file?: string }) =>
        void warnings.push({ message, ...where })
    }
    const p = await createPlan(
      settings,
      { env: {}, gitSha: 'f'.repeat(40), description: 'd' },
      logger
    )
    fs.rmSync(root, { recursive: true, force: true })
    expect(warnings).toEqual([
      expect.objectContaining({
        message: '${BAR} is not set: it becomes empty',
        line: 53,
        file: 'convox.yml'
      })
    ])
    expect(p.services.find(s => s.name === 'api')?.context).toBe('api')
    expect(p.services.find(s => s.name === 'api')?.dockerfile).toBe('Dockerfile2')
  })
})
