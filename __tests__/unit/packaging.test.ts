// The packaging files agree with the CLI and with each other: the npm package's manifest, the
// GitLab component, the Buildkite plugin, the CircleCI orb and the README's snippets.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from '@jest/globals'
import * as acorn from 'acorn'
import { parse } from 'yaml'
import { CLI_FILE_FLAGS, SETTING_FLAGS, envName } from '../../src/cli/args.js'
import { SECRET_INPUTS } from '../../src/core/secrets.js'
import { readmeSnippet } from '../helpers/readme.js'
import { REPO_ROOT } from '../helpers/rig.js'

const read = (f: string): string => readFileSync(path.join(REPO_ROOT, f), 'utf8')
const pkg = JSON.parse(read('package.json')) as Record<string, unknown> & { version: string }
const PACKAGE = `convox-build@${pkg.version}`
const settings = new Set<string>(SETTING_FLAGS)
const cliFiles = Object.keys(CLI_FILE_FLAGS)

describe('package.json', () => {
  it('has no runtime dependency to fetch: dist/ is bundled', () => {
    expect(pkg.dependencies).toBeUndefined()
    expect(pkg.peerDependencies).toBeUndefined()
    expect(pkg.optionalDependencies).toBeUndefined()
  })

  it('has no entry point that would run the action on import, and ships the CLI only', () => {
    expect(pkg.exports).toBeUndefined()
    expect(pkg.main).toBeUndefined()
    expect(pkg.bin).toEqual({ 'convox-build': 'bin/convox-build.js' })
    expect(pkg.files).toEqual([
      'bin/convox-build.js',
      'dist/cli.js',
      // the CLI's lazily loaded chunks (Sigstore's libraries: scripts/bundle.mjs names them)
      'dist/*.cli.js',
      'dist/package.json',
      'dist/licenses.txt'
    ])
    expect(pkg.engines).toEqual({ node: '>=20' })
  })
})

describe('dist/', () => {
  // scripts/bundle.mjs eagerModules: V8 compiles a parenthesized function with its file, once.
  it.each(['cli.js', 'index.js', 'post.js'])(
    '%s has each module function of its table in parentheses',
    file => {
      const code = read(`dist/${file}`)
      const ast = acorn.parse(code, { ecmaVersion: 'latest', sourceType: 'module' })
      const tables = ast.body.flatMap(n =>
        n.type === 'VariableDeclaration'
          ? n.declarations.flatMap(d => (d.init?.type === 'ObjectExpression' ? [d.init] : []))
          : []
      )
      // webpack's table: module ids (numbers) to functions
      const isFactory = (p: (typeof tables)[number]['properties'][number]): boolean =>
        p.type === 'Property' &&
        p.key.type === 'Literal' &&
        typeof p.key.value === 'number' &&
        (p.value.type === 'ArrowFunctionExpression' || p.value.type === 'FunctionExpression')
      const factories = tables
        .filter(t => t.properties.length > 0 && t.properties.every(isFactory))
        .flatMap(t => t.properties)
        .flatMap(p => (p.type === 'Property' ? [p.value] : []))
      expect(factories.length).toBeGreaterThan(10)
      const bare = factories.filter(f => code[f.start - 1] !== '(' || code[f.end] !== ')')
      expect(bare.map(f => code.slice(f.start, f.start + 40))).toEqual([])
    }
  )
})

describe('GitLab CI/CD component', () => {
  const [specDoc, jobsDoc] = read('templates/convox-build.yml').split(/^---$/m)
  const spec = parse(specDoc ?? '').spec.inputs as Record<string, { default?: string }>
  const job = parse(jobsDoc ?? '')['$[[ inputs.job-name ]]'] as {
    variables: Record<string, string>
    script: string[]
    artifacts: { reports: { dotenv: string; codequality: string } }
  }

  it('maps each setting input to its CONVOX_BUILD_ variable', () => {
    const own = ['job-name', 'stage', 'image', 'package', 'command', 'args', 'output-file']
    for (const name of Object.keys(spec).filter(n => !own.includes(n))) {
      expect(settings.has(name)).toBe(true)
      expect(job.variables[envName(name)]).toBe(`$[[ inputs.${name} ]]`)
    }
  })

  it('takes secrets as variable references only', () => {
    for (const name of SECRET_INPUTS.filter(n => n in spec)) {
      expect(spec[name]?.default ?? '').toMatch(/^(\$[A-Z_]+)?$/)
    }
    expect(spec['rack-url']).toBeUndefined()
    expect(spec['convox-password']).toBeUndefined()
  })

  it('writes the outputs as the dotenv report and runs this version', () => {
    expect(spec.package?.default).toBe(PACKAGE)
    expect(job.artifacts.reports.dotenv).toBe('$[[ inputs.output-file ]]')
    expect(job.artifacts.reports.codequality).toBe('gl-code-quality-report.json')
    expect(job.script.join('\n')).toContain('--code-quality-file gl-code-quality-report.json')
    expect(job.script.join('\n')).toContain("--output-file '$[[ inputs.output-file ]]'")
  })
})

describe('Buildkite plugin', () => {
  const plugin = parse(read('plugin.yml')) as {
    name: string
    configuration: { properties: Record<string, unknown>; additionalProperties: boolean }
  }
  const hook = read('hooks/command')
  const listed = (/settings=\(([^)]*)\)/.exec(hook)?.[1] ?? '').split(/\s+/).filter(Boolean)
  const properties = Object.keys(plugin.configuration.properties)

  it('has a property per setting the hook passes on, and takes no secret', () => {
    const own = ['command', 'package', ...cliFiles]
    const settingProps = properties.filter(p => !own.includes(p))
    for (const p of settingProps) expect(settings.has(p)).toBe(true)
    expect(listed).toEqual(settingProps.map(p => p.toUpperCase().replace(/-/g, '_')))
    for (const secret of SECRET_INPUTS) expect(properties).not.toContain(secret)
    expect(plugin.configuration.additionalProperties).toBe(false)
  })

  it('is named so that its properties arrive as BUILDKITE_PLUGIN_CONVOX_BUILD_*', () => {
    expect(plugin.name).toBe('convox-build')
    expect(hook).toContain('prefix=BUILDKITE_PLUGIN_CONVOX_BUILD_')
    expect(hook).toContain(`package=convox-build@${pkg.version}`)
  })
})

describe('CircleCI orb', () => {
  const src = (f: string) => parse(read(path.join('orb/src', f)))
  const command = src('commands/build.yml')
  const job = src('jobs/build.yml')

  it('has one parameter per setting it passes, the same on the job and the command', () => {
    expect(job.parameters).toEqual(command.parameters)
    const own = ['command', 'args', 'output-file', 'package', 'registry-password']
    const env = command.steps[0].run.environment as Record<string, string>
    const param = (name: string) => `PARAM_${name.toUpperCase().replace(/-/g, '_')}`
    for (const name of Object.keys(command.parameters)) {
      expect(env[param(name)]).toBe(`<< parameters.${name} >>`)
    }
    // The script turns the settings among them into CONVOX_BUILD_<NAME>.
    const script = read('orb/src/scripts/build.sh')
    const listed = (/for name in ([A-Z_ ]+); do/.exec(script)?.[1] ?? '').split(' ')
    const names = Object.keys(command.parameters).filter(n => !own.includes(n))
    for (const name of names) expect(settings.has(name)).toBe(true)
    expect(listed).toEqual(names.map(n => param(n).slice('PARAM_'.length)))
    // The password's parameter names a variable, which the script reads.
    expect(command.parameters['registry-password'].type).toBe('env_var_name')
    expect(command.parameters.package.default).toBe(PACKAGE)
  })

  it('has the files circleci orb pack reads', () => {
    expect(readdirSync(path.join(REPO_ROOT, 'orb/src')).sort()).toEqual([
      '@orb.yml',
      'commands',
      'examples',
      'executors',
      'jobs',
      'scripts'
    ])
    expect(command.steps[0].run.command).toBe('<< include(scripts/build.sh) >>')
  })
})

describe('README', () => {
  it.each([
    ['GitLab CI/CD', `convox-build@${pkg.version}`],
    ['Buildkite', `convox-build.git#v${pkg.version}`],
    ['CircleCI', `convox-build/convox-build@${pkg.version}`],
    ['Bitbucket Pipelines', `npx --yes ${PACKAGE} `],
    ['Jenkins', `npx --yes ${PACKAGE} `],
    ['Azure Pipelines', `npx --yes ${PACKAGE} `]
  ])('%s names this version', (title, text) => {
    expect(readmeSnippet(title).code).toContain(text)
  })
})
