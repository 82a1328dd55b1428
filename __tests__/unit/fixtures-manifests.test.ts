// Every real manifest under __tests__/fixtures/manifests (sources in its SOURCES.md) gets the
// rack's verdict: a plan, or the error the rack's Load/Validate gives, at our file:line. Their
// Dockerfiles are created here (FROM scratch).
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
 * The rack's verdict on each fixture that it refuses (pkg/manifest manifest.go Load, then
 * Validate in validate.go, with no app environment), as measured by running Convox's own code on
 * them: our message carries the rack's meaning. Every other fixture plans.
 */
const RACK_REFUSES: Record<string, RegExp> = {
  'bitzesty__vigilion-scanner__convox.yml': /labels: cannot unmarshal !!seq into manifest\.Labels/,
  'convox-examples__datadog__convox.yml': /agent ports are now specified at the service level/,
  'convox-examples__hasura__convox.yml': /resource name hasura_graphql_database invalid/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule1.yml':
    /requires budget\.atCapWebhookUrl/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule10.yml':
    /leaves no services eligible/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule10a.yml':
    /requires at least one service/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule2.yml':
    /requires budget\.monthlyCapUsd > 0/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule4.yml':
    /notifyBeforeMinutes must be between 5 and 1440; got 2000/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule5.yml':
    /shutdownGracePeriod must be between 0s and 1h; got 2h/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule6.yml':
    /must be a Go duration string .* got "garbage"/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule7.yml':
    /shutdownOrder must be one of .* got "random"/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule7a.yml':
    /"priority-annotation" reserved/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule8.yml':
    /recoveryMode "scheduled" reserved/,
  'convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule9.yml':
    /recoveryMode must be one of .* got "random"/,
  'convox__convox__pkg_manifest_testdata_invalid.1.yml': /must be a YAML mapping/,
  'convox__convox__pkg_manifest_testdata_validate__invalid.yml': /balancer alpha has no ports/,
  'easybib__dd-agent__convox.yml': /agent ports are now specified at the service level/,
  'ianmalott__constable__convox.yml': /balancer constable has no ports/
}

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
      if (!fs.existsSync(df)) fs.writeFileSync(df, 'FROM scratch\n')
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

  async function planFixture(file: string, withEnv = true) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8')
    const env = withEnv ? envFor(text) : {}
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

  it.each(files.filter(f => !(f in RACK_REFUSES)))('%s plans', async file => {
    const { plan, warnings } = await planFixture(file, false)
    if (plan instanceof Error) throw plan
    const out = planOutput(plan as Awaited<ReturnType<typeof createPlan>>)
    expect(out.services.map(s => s.image)).toEqual(
      out.services.map(s => `registry.test/acme/app:${s.name}.BAAAAAAAAAA`)
    )
    // Image services carry from; build services index a build tagged for them.
    expect(out.services.filter(s => s.build === null && !s.from)).toEqual([])
    expect(
      out.services.filter(s => s.build !== null && !out.builds[s.build]?.services.includes(s.name))
    ).toEqual([])
    // Unset variables are warned about, once each.
    const unset = new Set(
      [...fs.readFileSync(path.join(dir, file), 'utf8').matchAll(/\$\{([^}]*)\}/g)].map(m => m[1])
    )
    for (const name of unset) {
      expect(warnings).toContainEqual(expect.stringContaining(`\${${name}} is not set`))
    }
  })

  it.each(Object.entries(RACK_REFUSES))('%s fails as on the rack', async (file, why) => {
    const { plan } = await planFixture(file, false)
    expect(plan).toBeInstanceOf(UserError)
    const problems = (plan as UserError).problems
    expect(problems.map(p => p.message).join('\n')).toMatch(why)
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
