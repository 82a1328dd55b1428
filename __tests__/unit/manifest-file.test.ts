// The manifest is read only when it is a regular file inside the working directory once links
// are resolved, as build paths and Dockerfiles are: a convox.yml linked to ~/.docker/config.json
// or a kubeconfig would otherwise be read, accepted (no services) and stored whole on the rack's
// build and in the export. Here the file outside holds a canary, searched for in every output.
import { afterAll, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/cli/run.js'
import { silentLogger } from '../../src/core/log.js'
import { loadManifest } from '../../src/core/manifest.js'
import { thrown } from '../helpers/errors.js'

const CANARY = 'canary-0f9e8d7c6b5a-never-read'
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-file-'))
const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-outside-'))
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true })
  fs.rmSync(outside, { recursive: true, force: true })
})

// A file outside that parses as a manifest (no services), as a docker config.json does.
const secretFile = path.join(outside, 'config.json')
fs.writeFileSync(secretFile, `{"auths": {"r.example.com": {"auth": "${CANARY}"}}}\n`)
fs.writeFileSync(path.join(root, 'Dockerfile'), 'FROM busybox\n')
fs.writeFileSync(path.join(root, 'real.yml'), 'services:\n  web:\n    build: .\n')
fs.symlinkSync(secretFile, path.join(root, 'convox.yml'))
fs.symlinkSync(outside, path.join(root, 'dir-out'))
fs.symlinkSync(path.join(root, 'real.yml'), path.join(root, 'inside.yml'))
fs.symlinkSync('/dev/null', path.join(root, 'devnull.yml'))
fs.symlinkSync(path.join(root, 'nowhere.yml'), path.join(root, 'dangling.yml'))
fs.mkdirSync(path.join(root, 'sub'))
fs.writeFileSync(path.join(root, 'sub', 'outside.yml'), '')

function problemsOf(manifest: string, workingDirectory = root) {
  return thrown(() => loadManifest({ workingDirectory, manifest, env: {}, logger: silentLogger }))
    .problems
}

describe('the manifest file', () => {
  it.each([
    ['a link to a file outside', 'convox.yml', 'leads outside the working directory (symlink)'],
    [
      'a file under a linked directory outside',
      'dir-out/config.json',
      'leads outside the working directory (symlink)'
    ],
    [
      'a path outside',
      '../' + path.basename(outside) + '/config.json',
      'is outside the working directory'
    ],
    ['an absolute path outside', secretFile, 'is outside the working directory'],
    ['a link to a device', 'devnull.yml', 'is not a regular file'],
    ['a dangling link', 'dangling.yml', `no such file in ${root}`]
  ])('%s: one problem naming the manifest input, nothing read', (_name, manifest, why) => {
    const problems = problemsOf(manifest)
    expect(problems).toEqual([{ input: 'manifest', message: `${manifest} ${why}` }])
    expect(JSON.stringify(problems)).not.toContain(CANARY)
  })

  it('is outside when the working directory is a subdirectory and the manifest goes up', () => {
    expect(problemsOf('../convox.yml', path.join(root, 'sub'))).toEqual([
      { input: 'manifest', message: '../convox.yml is outside the working directory' }
    ])
  })

  it('may be a link to a regular file inside', () => {
    const m = loadManifest({
      workingDirectory: root,
      manifest: 'inside.yml',
      env: {},
      logger: silentLogger
    })
    expect(m.services.map(s => s.name)).toEqual(['web'])
    expect(m.text).toBe('services:\n  web:\n    build: .\n')
  })

  it('`convox-build build` with every output asked for: one line, exit 1, the canary nowhere', async () => {
    let stdout = ''
    let stderr = ''
    const out = path.join(root, 'out')
    const code = await runCli(
      [
        'build',
        '--app',
        'myapp',
        '--registry',
        '127.0.0.1:9/myapp',
        '--export',
        'out/build.tgz',
        '--output-file',
        path.join(out, 'outputs.json'),
        '--summary-file',
        path.join(out, 'summary.md'),
        '--code-quality-file',
        path.join(out, 'quality.json')
      ],
      {
        stdout: t => void (stdout += t),
        stderr: t => void (stderr += t),
        // A registry nothing listens on: the run stops before it would push.
        env: { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' },
        cwd: root,
        signals: false
      }
    )
    expect(code).toBe(1)
    expect(stderr.split('\n').filter(l => l.startsWith('error') || l.includes('manifest'))).toEqual(
      ['--manifest: convox.yml leads outside the working directory (symlink)']
    )
    const written = fs.existsSync(out)
      ? fs.readdirSync(out).map(f => fs.readFileSync(path.join(out, f), 'utf8'))
      : []
    for (const text of [stdout, stderr, ...written]) expect(text).not.toContain(CANARY)
    expect(fs.existsSync(path.join(out, 'build.tgz'))).toBe(false)
  })
})
