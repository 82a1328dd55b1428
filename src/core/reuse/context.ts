// The digest of a build context as BuildKit will receive it: every entry the ignore file leaves,
// by name, type, permission bits and content (git blob ids), never mtimes. In a git checkout the
// index gives the blob ids of files git knows unchanged, so only changed and untracked files are
// read; the ids are the same either way, so the digest does not depend on which path was taken.
import { createHash } from 'node:crypto'
import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync
} from 'node:fs'
import path from 'node:path'
import type { Exec } from '../exec.js'
import { IgnoreMatcher, type ParentResults } from './dockerignore.js'

export interface ContextEntry {
  /** Slash path relative to the context. */
  path: string
  kind: 'file' | 'dir' | 'symlink' | 'other'
  /** Permission bits (st_mode & 07777). */
  mode: number
  /** Git blob id of the content (files) or of the link target (symlinks); '' otherwise. */
  id: string
}

export interface ContextDigest {
  digest: string
  entries: number
  /** Files whose content was read and hashed (the rest came from git's index). */
  hashed: number
}

export interface ContextOptions {
  exec: Exec
  env?: NodeJS.ProcessEnv
  /** Use git's index for unchanged files (default true). */
  git?: boolean
  /** The blob ids git vouches for in this context, when already read (see gitKnownBlobs). */
  known?: Promise<Map<string, string>>
}

/** Walks the context as BuildKit's context walker does with these exclude patterns. */
export function walkContext(root: string, matcher: IgnoreMatcher): ContextEntry[] {
  const out: ContextEntry[] = []
  const visit = (dir: string, rel: string, parent: ParentResults): void => {
    const names = readdirSync(dir).sort(byteOrder)
    for (const name of names) {
      const relPath = rel ? `${rel}/${name}` : name
      const abs = path.join(dir, name)
      const st = lstatSync(abs)
      const m = matcher.patterns.length > 0 ? matcher.match(relPath, parent) : undefined
      if (st.isDirectory()) {
        if (m?.excluded) {
          if (matcher.canSkip(relPath)) continue
          // Kept only when something inside is brought back by an exception.
          const before = out.length
          out.push({ path: relPath, kind: 'dir', mode: st.mode & 0o7777, id: '' })
          visit(abs, relPath, m.results)
          if (out.length === before + 1) out.pop()
          continue
        }
        out.push({ path: relPath, kind: 'dir', mode: st.mode & 0o7777, id: '' })
        visit(abs, relPath, m?.results)
        continue
      }
      if (m?.excluded) continue
      const kind = st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other'
      const id = kind === 'symlink' ? blobId(Buffer.from(readlinkSync(abs))) : ''
      out.push({ path: relPath, kind, mode: st.mode & 0o7777, id })
    }
  }
  visit(root, '', undefined)
  return out
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/** `blob <size>\0<content>` hashed: git's object id (sha1 repositories). */
export function blobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex')
}

const CHUNK = 1 << 20

/** The blob id of a file, read in chunks (large files never whole in memory). */
export function fileBlobId(file: string): string {
  const size = lstatSync(file).size
  const hash = createHash('sha1').update(`blob ${size}\0`)
  const fd = openSync(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, size)))
    let read = 0
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, read)
      if (n === 0) break
      hash.update(n === buf.length ? buf : buf.subarray(0, n))
      read += n
    }
    if (read !== size) throw new Error(`${file} changed while it was read`)
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}

/**
 * Blob ids git vouches for: tracked files whose worktree content git knows equal to the index
 * (not modified in the worktree, not assume-unchanged or skip-worktree, no conversion on checkout).
 * Empty outside a sha1 git work tree.
 */
export async function gitKnownBlobs(
  dir: string,
  exec: Exec,
  env?: NodeJS.ProcessEnv,
  signal?: AbortSignal
): Promise<Map<string, string>> {
  const git = (args: string[], input?: string) =>
    exec('git', ['-C', dir, ...args], {
      env: { ...(env ?? process.env), GIT_OPTIONAL_LOCKS: '0' },
      input,
      signal
    }).catch(() => ({ exitCode: -1, stdout: '', stderr: '' }))
  const [format, listed, config] = await Promise.all([
    git([
      'rev-parse',
      '--is-inside-work-tree',
      '--show-object-format',
      '--show-toplevel',
      '--git-path',
      'info/attributes'
    ]),
    // -c with -m: each entry as cached (H), and again (C) when the worktree's file differs
    git(['ls-files', '-s', '-v', '-c', '-m', '-z']),
    git(['config', '-z', '--get-regexp', '^core\\.(autocrlf|eol|attributesfile)$'])
  ])
  const known = new Map<string, string>()
  if (format.exitCode !== 0 || listed.exitCode !== 0) return known
  if (format.stdout.split('\n')[1]?.trim() !== 'sha1') return known
  const records = listed.stdout
    .split('\0')
    .map(r => /^(\S) (\d+) ([0-9a-f]+) (\d)\t([\s\S]+)$/.exec(r))
    .filter(m => m !== null)
  const dirty = new Set(records.filter(m => m[1] === 'C').map(m => m[5]!))
  for (const m of records) {
    // `H 100644 <id> 0\t<path>`: H = cached; lowercase = assume-unchanged, S = skip-worktree.
    if (m[1] !== 'H' || m[4] !== '0') continue
    if (m[2] !== '100644' && m[2] !== '100755') continue
    if (!dirty.has(m[5]!)) known.set(m[5]!, m[3]!)
  }
  if (known.size === 0) return known
  // Conversions make worktree bytes differ from the blob git calls them equal to: on checkout
  // (smudge), and when git compares (clean: a CRLF worktree file is "unchanged" against an LF
  // blob). Those files are read. core.autocrlf true or input converts every text file.
  const settings = config.stdout.split('\0')
  if (settings.some(s => /^core\.autocrlf\n(true|input)$/i.test(s.trim()))) return new Map()
  // Without an attributes file anywhere (tracked, the repository's own, core.attributesFile)
  // only the core settings can convert: asking git file by file is not needed.
  const [, , toplevel = '', infoAttributes = ''] = format.stdout.split('\n').map(l => l.trim())
  const attributed =
    [...known.keys()].some(f => f === '.gitattributes' || f.endsWith('/.gitattributes')) ||
    aboveAttributes(dir, toplevel) ||
    settings.some(s => /^core\.attributesfile\n/i.test(s)) ||
    (infoAttributes !== '' && existsSync(path.resolve(dir, infoAttributes)))
  // core.eol alone converts only files with a text attribute.
  if (!attributed) return known
  const attrs = await git(
    ['check-attr', '-z', '--stdin', ...ATTRIBUTES],
    [...known.keys()].join('\0') + '\0'
  )
  if (attrs.exitCode !== 0) return new Map()
  const fields = attrs.stdout.split('\0')
  for (let i = 0; i + 2 < fields.length; i += 3) {
    const [file, attr, value] = [fields[i]!, fields[i + 1]!, fields[i + 2]!]
    if (value === 'unspecified' || value === 'unset') continue
    // Every one of them, set to anything, may convert (text and eol: CRLF both ways).
    if (ATTRIBUTES.includes(attr)) known.delete(file)
  }
  return known
}

/** The attributes under which git converts a file between its blob and the worktree. */
const ATTRIBUTES = ['filter', 'ident', 'working-tree-encoding', 'eol', 'text']

/** A `.gitattributes` in a directory from `dir` up to the work tree's top (ls-files lists none). */
function aboveAttributes(dir: string, toplevel: string): boolean {
  if (!toplevel) return false
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (existsSync(path.join(d, '.gitattributes'))) return true
    if (d === toplevel || path.dirname(d) === d || !d.startsWith(toplevel)) return false
  }
}

/** The context's digest (sha256 hex) over its entries, after the ignore patterns. */
export async function contextDigest(
  root: string,
  patterns: string[],
  options: ContextOptions
): Promise<ContextDigest> {
  const matcher = new IgnoreMatcher(patterns)
  const [entries, known] = await Promise.all([
    Promise.resolve().then(() => walkContext(root, matcher)),
    options.git === false
      ? Promise.resolve(new Map<string, string>())
      : (options.known ?? gitKnownBlobs(root, options.exec, options.env))
  ])
  const hash = createHash('sha256')
  let hashed = 0
  for (const e of entries) {
    if (e.kind === 'file') {
      const id = known.get(e.path)
      if (id) e.id = id
      else {
        e.id = fileBlobId(path.join(root, e.path))
        hashed++
      }
    }
    hash.update(`${e.kind} ${e.mode.toString(8)} ${e.id} ${e.path}\0`)
  }
  return { digest: hash.digest('hex'), entries: entries.length, hashed }
}

/** The entries of `known` under `dir/` (a slash path), relative to it. */
export function underDirectory(known: Map<string, string>, dir: string): Map<string, string> {
  if (dir === '' || dir === '.') return known
  const prefix = `${dir}/`
  const out = new Map<string, string>()
  for (const [p, id] of known) if (p.startsWith(prefix)) out.set(p.slice(prefix.length), id)
  return out
}
