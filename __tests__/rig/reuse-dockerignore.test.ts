// The context the reuse key reads is the context BuildKit receives: for each ignore file, the
// entries walkContext() lists equal the entries a real BuildKit build copies (`COPY . /ctx`),
// including the rules of moby/patternmatcher (MatchesUsingParentResults, as tonistiigi/fsutil's
// filter.go Walk applies it) and buildkit's frontend/dockerui/config.go choice of ignore file.
import { beforeAll, describe, expect, it } from '@jest/globals'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { IgnoreMatcher, readIgnoreFile } from '../../src/core/reuse/dockerignore.js'
import { walkContext } from '../../src/core/reuse/context.js'
import { buildDir } from '../helpers/dockerfile-build.js'
import { loadRig, makeDockerConfig, rigLogins, type Rig } from '../helpers/rig.js'

let rig: Rig
let dockerConfig: string
beforeAll(async () => {
  rig = loadRig()
  dockerConfig = await makeDockerConfig(rigLogins(rig))
})

const FILES = [
  'a/b.txt',
  'a/c',
  'a/c.d/e',
  'debug.log',
  'sub/trace.log',
  'tmp/keep.txt',
  'tmp/drop.txt',
  'docs/README.md',
  'docs/guide.md',
  'docs/x/y.keep',
  'docs/x/z.txt',
  'README.md',
  'file(1).txt',
  'file1.txt',
  'x+y',
  'xxy',
  'Upper.TXT',
  'upper.txt',
  'abs/path',
  'other',
  'rel/k',
  ' spaced',
  '#notcomment',
  'src/main.js',
  'src/lib/util.js',
  'b.txt',
  'd.txt',
  '1.txt',
  'n/o/p/q.txt'
]

const CASES: Record<string, string> = {
  'exceptions inside an excluded directory': '*.log\ntmp/\n!tmp/keep.txt\n',
  '** with a file exception': '**/*.md\n!docs/README.md\n',
  'an exception for a parent does not bring back a child excluded before it': 'a/c\n!a\n',
  'regexp characters are plain, case matters': 'file(1).txt\nx+y\nUpper.TXT\n',
  'a non-prefix exception walks the excluded directory': 'docs\n!docs/**/*.keep\n',
  'paths cleaned, leading slash dropped, comments only at column 1':
    '/abs/path\n./rel/../other\n   spaced  \n#comment\n #notcomment\n',
  'everything but one directory': '**\n!src\n',
  'character classes and ?': '[a-c].txt\n?.txt\n',
  'a pattern matching a parent excludes its content': 'n/o\nsrc/lib\n',
  'empty directories and symlinks are kept unless excluded': 'nothing-matches\n'
}

async function writeContext(ignore: string, beside?: string): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'reuse-ignore-'))
  for (const f of FILES) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true })
    await writeFile(path.join(root, f), `${f}\n`)
  }
  await mkdir(path.join(root, 'empty'))
  await symlink('a/b.txt', path.join(root, 'link'))
  await writeFile(path.join(root, '.dockerignore'), ignore)
  await writeFile(
    path.join(root, 'Dockerfile'),
    [
      'FROM busybox AS list',
      'COPY . /ctx',
      'RUN cd /ctx && find . -mindepth 1 | sed "s|^\\./||" | sort > /list',
      'FROM scratch',
      'COPY --from=list /list /list',
      ''
    ].join('\n')
  )
  if (beside !== undefined) await writeFile(path.join(root, 'Dockerfile.dockerignore'), beside)
  return root
}

/** What BuildKit copied from the context. */
async function buildkitList(root: string): Promise<string[]> {
  const out = await mkdtemp(path.join(tmpdir(), 'reuse-ignore-out-'))
  const r = await buildDir(root, `type=local,dest=${out}`, { dockerConfig })
  if (r.exitCode !== 0) throw new Error(r.stderr.slice(-2000))
  const list = (await readFile(path.join(out, 'list'), 'utf8')).split('\n').filter(Boolean)
  await rm(out, { recursive: true, force: true })
  return list.sort()
}

function ourList(root: string): string[] {
  const ignore = readIgnoreFile(root, path.join(root, 'Dockerfile'))
  return walkContext(root, new IgnoreMatcher(ignore.patterns))
    .map(e => e.path)
    .sort()
}

describe('the reuse key reads the context BuildKit receives', () => {
  it.each(Object.entries(CASES))('%s', async (_name, ignore) => {
    const root = await writeContext(ignore)
    const theirs = await buildkitList(root)
    expect(ourList(root)).toEqual(theirs)
    // A real listing, not an empty or failed copy.
    expect(theirs.length).toBeGreaterThan(3)
  })

  it('<Dockerfile>.dockerignore beside the Dockerfile wins over the context .dockerignore', async () => {
    const root = await writeContext('*.txt\n', 'docs\n')
    const theirs = await buildkitList(root)
    expect(theirs).toContain('a/b.txt')
    expect(theirs).not.toContain('docs')
    expect(ourList(root)).toEqual(theirs)
  })
})
