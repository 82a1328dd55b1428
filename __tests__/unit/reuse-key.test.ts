// The content key's own logic: the context digest is the same whether git's index or our hashing
// gave the blob ids, and changes with names, modes and contents but not mtimes; the images a
// Dockerfile reads; the key tag's length.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawnExec } from '../../src/core/exec.js'
import {
  blobId,
  contextDigest,
  gitKnownBlobs,
  underDirectory
} from '../../src/core/reuse/context.js'
import { parseIgnoreFile } from '../../src/core/reuse/dockerignore.js'
import { parseDockerfile } from '../../src/core/dockerfile.js'
import { imageRefs, keyTag } from '../../src/core/reuse/key.js'
import { Reuse } from '../../src/core/reuse/unchanged-builds.js'
import type { RegistryClient } from '../../src/core/registry/client.js'

async function repo(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'reuse-key-'))
  await mkdir(path.join(dir, 'src'))
  await writeFile(path.join(dir, 'src', 'a.txt'), 'a\n')
  await writeFile(path.join(dir, 'b.sh'), '#!/bin/sh\n')
  await chmod(path.join(dir, 'b.sh'), 0o755)
  await writeFile(path.join(dir, '.dockerignore'), '*.log\n')
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir })
  git('init', '-q')
  git('add', '-A')
  git('commit', '-qm', 'x')
  return dir
}

const digest = async (dir: string, git = true) =>
  contextDigest(dir, ['*.log', '.git'], { exec: spawnExec, git })

describe('context digest', () => {
  it('is the same from git index and from hashing; only changed and untracked files are read', async () => {
    const dir = await repo()
    const known = await gitKnownBlobs(dir, spawnExec)
    expect(known.get('src/a.txt')).toBe(blobId(Buffer.from('a\n')))
    const viaGit = await digest(dir)
    const viaHash = await digest(dir, false)
    expect(viaGit.digest).toBe(viaHash.digest)
    expect(viaGit.hashed).toBe(0)
    expect(viaHash.hashed).toBe(3)

    await writeFile(path.join(dir, 'src', 'a.txt'), 'changed\n')
    await writeFile(path.join(dir, 'new.txt'), 'new\n')
    const changed = await digest(dir)
    expect(changed.hashed).toBe(2)
    expect(changed.digest).toBe((await digest(dir, false)).digest)
    expect(changed.digest).not.toBe(viaGit.digest)
  })

  it('one read of the repository index serves every context under it', async () => {
    const dir = await repo()
    const whole = await gitKnownBlobs(dir, spawnExec)
    const sub = await gitKnownBlobs(path.join(dir, 'src'), spawnExec)
    expect(underDirectory(whole, 'src')).toEqual(sub)
    expect(underDirectory(whole, '.')).toBe(whole)
  })

  it('changes with a mode or a name, not with an mtime or an ignored file', async () => {
    const dir = await repo()
    const base = (await digest(dir)).digest
    await utimes(path.join(dir, 'src', 'a.txt'), 1, 1)
    await writeFile(path.join(dir, 'x.log'), 'ignored\n')
    expect((await digest(dir)).digest).toBe(base)
    await chmod(path.join(dir, 'src', 'a.txt'), 0o600)
    const mode = (await digest(dir)).digest
    expect(mode).not.toBe(base)
    await mkdir(path.join(dir, 'empty'))
    expect((await digest(dir)).digest).not.toBe(mode)
  })

  it('reads the files a checkout converts (a filter attribute) instead of trusting the index', async () => {
    const dir = await repo()
    await writeFile(path.join(dir, '.gitattributes'), 'src/* filter=lfs\n')
    execFileSync('git', ['add', '.gitattributes'], { cwd: dir })
    const known = await gitKnownBlobs(dir, spawnExec)
    expect(known.has('src/a.txt')).toBe(false)
    expect(known.has('b.sh')).toBe(true)
  })

  it.each([
    ['core.autocrlf input', ['config', 'core.autocrlf', 'input'], ''],
    ['core.autocrlf true', ['config', 'core.autocrlf', 'true'], ''],
    ['a text attribute', [], 'src/* text\n'],
    ['an eol attribute', [], 'src/* eol=lf\n']
  ])(
    'reads a CRLF file that git keeps as an LF blob and calls unchanged, under %s',
    async (_, config, attributes) => {
      const dir = await repo()
      const git = (...args: string[]): string =>
        execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
          cwd: dir
        }).toString()
      if (config.length > 0) git(...config)
      if (attributes) await writeFile(path.join(dir, '.gitattributes'), attributes)
      // Committed with CRLF: git stores LF, and the worktree keeps its CRLF bytes.
      await writeFile(path.join(dir, 'src', 'a.txt'), 'crlf\r\n')
      git('add', '-A')
      git('commit', '-qm', 'crlf')
      expect(git('cat-file', '-p', 'HEAD:src/a.txt')).toBe('crlf\n')
      expect(git('status', '--porcelain')).toBe('')
      expect((await gitKnownBlobs(dir, spawnExec)).has('src/a.txt')).toBe(false)
      expect((await digest(dir)).digest).toBe((await digest(dir, false)).digest)
    }
  )

  it('finds an attributes file above the context, which ls-files of the context does not list', async () => {
    const dir = await repo()
    await writeFile(path.join(dir, '.gitattributes'), '*.txt filter=lfs\n')
    execFileSync('git', ['add', '.gitattributes'], { cwd: dir })
    const known = await gitKnownBlobs(path.join(dir, 'src'), spawnExec)
    expect(known.has('a.txt')).toBe(false)
  })
})

describe('ignore file lines', () => {
  it('as ignorefile.ReadAll: BOM, comments at column 1, trimmed, cleaned, leading slash dropped', () => {
    expect(parseIgnoreFile('\uFEFF# c\n #x\n/a/b/\n!  ./c/../d \n\n*.log\r\n')).toEqual([
      '#x',
      'a/b',
      '!d',
      '*.log'
    ])
  })
})

describe('images a Dockerfile reads', () => {
  it('syntax frontend, FROMs with args, COPY --from and RUN --mount images; not stages or scratch', () => {
    const model = parseDockerfile(
      [
        '# syntax=docker/dockerfile:1.7',
        'ARG BASE=node:20',
        'ARG TAG',
        'FROM ${BASE} AS build',
        'RUN --mount=type=cache,from=tools:1,target=/t true',
        'FROM build AS test',
        'COPY --from=build /a /a',
        'COPY --from=nginx:1.27 /etc/nginx /etc/nginx',
        'FROM scratch',
        'COPY --from=0 /a /a',
        'FROM alpine:${TAG:-3.20}',
        ''
      ].join('\n')
    )
    expect(imageRefs(model, {})).toEqual([
      'docker/dockerfile:1.7',
      'node:20',
      'tools:1',
      'nginx:1.27',
      'alpine:3.20'
    ])
    expect(imageRefs(model, { BASE: 'node:22', TAG: '3.21' })).toContain('node:22')
    expect(imageRefs(model, { BASE: 'node:22', TAG: '3.21' })).toContain('alpine:3.21')
  })

  it('key tags stay valid tags of at most 128 characters', () => {
    const key = 'f'.repeat(32)
    expect(keyTag('web', key)).toBe(`web.${key}`)
    const long = keyTag('s'.repeat(200), key)
    expect(long.length).toBe(128)
    expect(long).toMatch(/^[\w][\w.-]{0,127}$/)
  })
})

describe("the builder's own platforms in the key", () => {
  const reuse = (platforms: string[], own: string[] | undefined) =>
    new Reuse({
      client: {} as RegistryClient,
      platforms,
      secretIds: [],
      secretArgs: [],
      exec: spawnExec,
      builderPlatforms: Promise.resolve(own)
    })

  it('one node: its platform, as if named; several: all of them, never as a list a run names', async () => {
    expect(await reuse([], ['linux/amd64']).keyPlatforms()).toEqual(['linux/amd64'])
    // buildx without --platform builds the first node's platform alone (one manifest).
    expect(await reuse([], ['linux/amd64', 'linux/arm64']).keyPlatforms()).toEqual([
      'builder:linux/amd64,linux/arm64'
    ])
    expect(await reuse([], ['linux/amd64', 'linux/arm64']).keyPlatforms()).not.toEqual(
      await reuse(['linux/amd64', 'linux/arm64'], ['linux/amd64']).keyPlatforms()
    )
    expect(await reuse(['linux/arm64'], ['linux/amd64', 'linux/arm64']).keyPlatforms()).toEqual([
      'linux/arm64'
    ])
    expect(await reuse([], undefined).keyPlatforms()).toEqual([])
  })
})
