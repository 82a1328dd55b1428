// Alias bombs (billion laughs) in convox.yml: a document whose aliases expand past yaml.v2's
// share (decode.go allowedAliasRatio, "document contains excessive aliasing") is refused as a
// whole while it is read, so no later walk (decoding, merge keys, attributes, hints) expands it.
// Each case is about 1 KB; jest's timeout is the guard against a hang.
import { describe, expect, it } from '@jest/globals'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/run.js'
import { UserError, formatProblem } from '../../src/core/errors.js'
import { silentLogger } from '../../src/core/log.js'
import { parseManifest } from '../../src/core/manifest.js'
import { parseYaml } from '../../src/core/manifest/yaml.js'

const LEVELS = 9

/** `x0: &a0 <leaf>`, then each level naming the one before nine times, as `shape` writes it. */
function bomb(leaf: string, level: (prev: string) => string, use: string): string {
  const lines = [`x0: &a0 ${leaf}`]
  for (let i = 1; i < LEVELS; i++) lines.push(`x${i}: &a${i} ${level(`a${i - 1}`)}`)
  return `${lines.join('\n')}\n${use.replace('LAST', `a${LEVELS - 1}`)}`
}

const nine = (f: (i: number) => string): string =>
  Array.from({ length: 9 }, (_, i) => f(i)).join(', ')

const SHAPES: [string, string][] = [
  [
    'aliases in sequences',
    bomb('[lol, lol]', a => `[${nine(() => `*${a}`)}]`, 'services:\n  web:\n    command: *LAST\n')
  ],
  [
    'aliases in mappings',
    bomb(
      '{k: v}',
      a => `{${nine(i => `k${i}: *${a}`)}}`,
      'services:\n  web:\n    image: busybox\n    labels: *LAST\n'
    )
  ],
  [
    'merge keys (<<) of merge keys',
    bomb(
      '{k: v}',
      a => `{<<: [${nine(() => `*${a}`)}], k: v}`,
      'services:\n  web:\n    image: busybox\n    environment:\n      <<: *LAST\n'
    )
  ],
  [
    'the quoted "<<" key (a merge once the rack marshals it again)',
    bomb(
      '{k: v}',
      a => `{"<<": [${nine(() => `*${a}`)}], k: v}`,
      'services:\n  web:\n    image: busybox\n    labels:\n      "<<": *LAST\n'
    )
  ],
  [
    'a bomb in a key nothing decodes',
    bomb(
      '[lol]',
      a => `[${nine(() => `*${a}`)}]`,
      'services:\n  web:\n    image: busybox\nx: *LAST\n'
    )
  ]
]

function problems(text: string): string[] {
  try {
    parseManifest(text, { file: 'convox.yml', env: {}, logger: silentLogger })
  } catch (e) {
    if (e instanceof UserError) return e.problems.map(formatProblem)
    throw e
  }
  return []
}

describe('alias bombs', () => {
  it.each(SHAPES)('%s: one line naming the file, nothing expanded', (_name, text) => {
    expect(text.length).toBeLessThan(1200)
    const found = problems(text)
    expect(found).toEqual([
      expect.stringMatching(/^convox\.yml:\d+:\d+: document contains excessive aliasing$/)
    ])
  })

  it('counts aliases across the whole document: many small expansions add up', () => {
    // Depth 2, each alias a 400-item list: none expands far, together they pass the share.
    const list = `a: &a [${Array.from({ length: 400 }, () => 'x').join(', ')}]\n`
    const refs = `b: [${Array.from({ length: 200 }, () => '*a').join(', ')}]\n`
    expect(parseYaml(list + refs).problems.map(p => p.message)).toEqual([
      'document contains excessive aliasing'
    ])
    expect(parseYaml(list + refs.replace(/(\*a, ){100}/, '')).problems).toEqual([])
  })

  it('warns of a plain merge key once however often aliases repeat it', () => {
    const warnings: string[] = []
    const refs = Array.from({ length: 50 }, (_, i) => `k${i}: *m`).join(', ')
    parseManifest(
      `x: &m {<<: {a: 1}}\nservices:\n  web:\n    image: busybox\n    x-meta: {${refs}}\n`,
      {
        file: 'convox.yml',
        env: {},
        logger: { ...silentLogger, warning: m => void warnings.push(m) }
      }
    )
    expect(warnings.filter(w => w.includes('plain merge key'))).toHaveLength(1)
  })

  it('keeps documents that use aliases as people do', () => {
    const text = [
      'x-common: &common {image: busybox, port: 3000, environment: [A=1, B=2]}',
      'services:',
      ...Array.from({ length: 300 }, (_, i) => `  s${i}: *common`),
      ''
    ].join('\n')
    expect(problems(text)).toEqual([])
  })

  it('`convox-build plan` ends with the one line and exit 1', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'alias-bomb-'))
    try {
      await writeFile(path.join(dir, 'convox.yml'), SHAPES[2]![1])
      let stdout = ''
      let stderr = ''
      const code = await runCli(['plan', '--app', 'bomb'], {
        stdout: t => void (stdout += t),
        stderr: t => void (stderr += t),
        env: { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' },
        cwd: dir,
        signals: false
      })
      expect(code).toBe(1)
      expect(stdout).toBe('')
      const errors = stderr.split('\n').filter(l => !l.startsWith('==>') && l !== '')
      expect(errors).toEqual([
        expect.stringMatching(/^convox\.yml:\d+:\d+: document contains excessive aliasing$/)
      ])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
