// BuildKit's `local` cache shared by the runs of one machine: each run reads a snapshot of its own
// (hard links: no bytes copied) and writes beside the directory, then renames its export into
// place, so a concurrent run's cache is never removed while that run reads or writes it.
import { randomBytes } from 'node:crypto'
import { link, lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises'
import path from 'node:path'
import { OWNER, OWNER_PATTERN, removeOrphans } from '../run-owner.js'

export interface LocalCachePaths {
  /** The cache directory: what the next run reads. */
  src: string
  /** This run's snapshot of `src`, which BuildKit imports. */
  read: string
  /** This run's export, renamed to `src` after a successful build. */
  dest: string
}

/** The paths of one build's local cache in `dir` (its scope's directory name). */
export function localCachePaths(dir: string, scope: string): LocalCachePaths {
  const src = path.join(dir, scope)
  const own = `${OWNER}-${randomBytes(4).toString('hex')}`
  return { src, read: `${src}.read-${own}`, dest: `${src}.new-${own}` }
}

/** What killed runs left: `<scope>.read-<owner>-<hex>`, `.new-…`, `.new-….old`. */
const ORPHAN = new RegExp(`^.+\\.(?:new|read)-${OWNER_PATTERN}-[0-9a-f]{8}(?:\\.old)?$`)

/** Before the build: killed runs' leftovers removed, and the snapshot BuildKit reads taken. */
export async function prepareLocalCache(p: LocalCachePaths): Promise<void> {
  await removeOrphans(path.dirname(p.src), ORPHAN)
  await linkTree(p.src, p.read)
}

/**
 * After a successful build: the export replaces the directory, each step a rename. When another
 * run put its own export in place meanwhile, that one (as new as ours) is kept.
 */
export async function installLocalCache(p: LocalCachePaths): Promise<void> {
  const old = `${p.dest}.old`
  const moved = await rename(p.src, old).then(
    () => true,
    (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? false : Promise.reject(e))
  )
  try {
    await rename(p.dest, p.src)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
      if (moved) await rename(old, p.src).catch(() => undefined)
      throw e
    }
    await rm(p.dest, { recursive: true, force: true })
  }
  if (moved) await rm(old, { recursive: true, force: true })
}

/** After the build, whatever its outcome: this run's snapshot and an export not installed. */
export async function releaseLocalCache(p: LocalCachePaths): Promise<void> {
  await rm(p.read, { recursive: true, force: true })
  await rm(p.dest, { recursive: true, force: true })
}

/** A copy of the tree `from` at `to` made of hard links; nothing when `from` does not exist. */
async function linkTree(from: string, to: string): Promise<void> {
  let entries: string[]
  try {
    entries = await readdir(from)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
    throw e
  }
  await mkdir(to, { recursive: true })
  for (const name of entries) {
    const a = path.join(from, name)
    const b = path.join(to, name)
    const st = await lstat(a)
    if (st.isDirectory()) await linkTree(a, b)
    else if (st.isSymbolicLink()) await symlink(await readlink(a), b)
    else await link(a, b)
  }
}
