// Where scripts/rack/build.sh takes Convox's source from (`build.sh --source`, nothing built):
// $CONVOX_SRC, else ../shared/realrack/convox-src beside the checkout, else the Go module proxy,
// else git; a tree at another commit is refused. The build itself is proven by the rack tests
// (__tests__/rig/rack-realrack.test.ts).
import { spawnSync } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from '@jest/globals'
import { REPO_ROOT } from '../helpers/rig.js'

const PINNED = /^CONVOX_COMMIT=([0-9a-f]{40})/m.exec(
  readFileSync(path.join(REPO_ROOT, 'scripts', 'rack', 'build.sh'), 'utf8')
)![1]!
const root = mkdtempSync(path.join(tmpdir(), 'rack-source-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** A tree that looks like Convox's source, saying it is at `commit`. */
function convoxTree(dir: string, commit = PINNED): string {
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'go.mod'), 'module github.com/convox/convox\n\ngo 1.25.0\n')
  writeFileSync(path.join(dir, '.commit'), `${commit}\n`)
  return realpathSync(dir)
}

/** A checkout holding only scripts/rack, in a folder of its own. */
function checkout(name: string): string {
  const repo = path.join(root, name, 'repo')
  cpSync(path.join(REPO_ROOT, 'scripts', 'rack'), path.join(repo, 'scripts', 'rack'), {
    recursive: true
  })
  return repo
}

function source(repo: string, env: Record<string, string> = {}) {
  const clean = { ...process.env }
  delete clean.CONVOX_SRC
  const r = spawnSync('bash', [path.join(repo, 'scripts', 'rack', 'build.sh'), '--source'], {
    encoding: 'utf8',
    env: { ...clean, CONVOX_BUILD_RACK_CACHE: path.join(root, 'cache'), ...env }
  })
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() }
}

describe('scripts/rack/build.sh: Convox source', () => {
  it('takes $CONVOX_SRC first, even with ../shared beside the checkout', () => {
    const repo = checkout('both')
    convoxTree(path.join(root, 'both', 'shared', 'realrack', 'convox-src'))
    const given = convoxTree(path.join(root, 'given'))
    expect(source(repo, { CONVOX_SRC: given })).toMatchObject({ status: 0, stdout: given })
  })

  it('else ../shared/realrack/convox-src beside the checkout', () => {
    const repo = checkout('beside')
    const shared = convoxTree(path.join(root, 'beside', 'shared', 'realrack', 'convox-src'))
    expect(source(repo)).toMatchObject({ status: 0, stdout: shared })
  })

  it('refuses a tree at another commit, in one line naming both', () => {
    const other = convoxTree(path.join(root, 'other'), 'a'.repeat(40))
    const r = source(checkout('other-commit'), { CONVOX_SRC: other })
    expect(r.status).toBe(1)
    expect(r.stderr).toBe(
      `rack: CONVOX_SRC (${other}) is Convox at ${'a'.repeat(40)}; the rack tests pin ${PINNED}`
    )
  })

  it('refuses a folder that is not Convox source', () => {
    const r = source(checkout('not-convox'), { CONVOX_SRC: root })
    expect(r).toMatchObject({ status: 1, stdout: '' })
    expect(r.stderr).toBe(
      `rack: CONVOX_SRC (${root}) is not Convox's source: no go.mod of github.com/convox/convox in it`
    )
  })

  it('with nothing beside the checkout asks the Go module proxy, then git, then says to set CONVOX_SRC', () => {
    const r = source(checkout('lonely'), {
      GOPROXY: 'off',
      CONVOX_GIT_URL: path.join(root, 'no-such-repo')
    })
    expect(r.status).toBe(1)
    const lines = r.stderr.split('\n').filter(l => l.startsWith('rack: '))
    expect(lines[0]).toMatch(
      /asking the Go module proxy for github\.com\/convox\/convox@v0\.0\.0-\d{14}-[0-9a-f]{12}$/
    )
    expect(lines[0]!.endsWith(PINNED.slice(0, 12))).toBe(true)
    expect(lines[1]).toMatch(/^rack: the Go module proxy \(off\) did not serve it: .*GOPROXY=off/)
    expect(lines.slice(2)).toEqual([
      'rack: trying git instead',
      `rack: fetching ${path.join(root, 'no-such-repo')} at ${PINNED}`,
      `rack: cannot get Convox's source at ${PINNED}, neither from the Go module proxy nor from ${path.join(root, 'no-such-repo')}: set CONVOX_SRC to a tree of github.com/convox/convox at that commit`
    ])
  })
})
