// Files the run writes at a path the user chose (the export, output and summary files): checked
// before any work starts, written beside the target under a temporary name and renamed into place
// when complete, so the path holds either what was there before or a whole file.
import { constants } from 'node:fs'
import { access, mkdir, rename, rm, stat, statfs } from 'node:fs/promises'
import path from 'node:path'
import { UserError } from './errors.js'
import { partialPath, removeOrphanPartials } from './run-owner.js'

/** Kernel pseudo filesystems (statfs f_type): nothing a build writes belongs there. */
const PSEUDO_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x6165676c, 'pstore'],
  [0xcafe4a11, 'bpf']
])

function fail(input: string, file: string, why: string): never {
  throw new UserError({ input, message: `cannot write ${file}: ${why}` })
}

async function statOrNull(p: string) {
  try {
    return await stat(p)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    if (code === 'ENOTDIR') return 'not-a-directory' as const
    throw e
  }
}

/**
 * Checks, creating nothing, that `file` can be written: it is not a directory or a device, and its
 * nearest existing parent is a writable directory on a real filesystem.
 */
export async function checkTargetFile(file: string, input: string): Promise<void> {
  const target = path.resolve(file)
  const own = await statOrNull(target)
  if (own === 'not-a-directory') fail(input, target, 'a parent of it is a file, not a directory')
  if (own?.isDirectory()) fail(input, target, 'it is a directory')
  if (own && !own.isFile()) fail(input, target, 'it is not a regular file')
  let dir = path.dirname(target)
  for (;;) {
    const s = await statOrNull(dir)
    if (s === 'not-a-directory') fail(input, target, 'a parent of it is a file, not a directory')
    if (s) {
      if (!s.isDirectory()) fail(input, target, `${dir} is not a directory`)
      break
    }
    const up = path.dirname(dir)
    if (up === dir) break
    dir = up
  }
  try {
    const fs = await statfs(dir)
    const pseudo = PSEUDO_FILESYSTEMS.get(Number(fs.type))
    if (pseudo) fail(input, target, `${dir} is on the kernel's ${pseudo} filesystem`)
  } catch (e) {
    if (e instanceof UserError) throw e
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    fail(input, target, code === 'EROFS' ? `${dir} is read-only` : `${dir} is not writable`)
  }
}

/**
 * Creates the parents of `file` one level at a time: a recursive mkdir never returns on some
 * pseudo filesystems (Node's recursive mkdir loops on /proc).
 */
async function makeParents(file: string, input: string): Promise<void> {
  const missing: string[] = []
  let dir = path.dirname(path.resolve(file))
  while ((await statOrNull(dir)) === null) {
    missing.unshift(dir)
    const up = path.dirname(dir)
    if (up === dir) break
    dir = up
  }
  for (const d of missing) {
    try {
      await mkdir(d)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code !== 'EEXIST') fail(input, file, `cannot create ${d} (${code ?? String(e)})`)
    }
  }
}

/**
 * Runs `write` on a temporary path beside `file` (same directory, so the rename is atomic) and
 * renames it into place when it resolves; on any failure the temporary file is removed and the
 * target is left as it was.
 */
export async function writeAtomically<T>(
  file: string,
  input: string,
  write: (tempPath: string) => Promise<T>
): Promise<T> {
  const target = path.resolve(file)
  await checkTargetFile(target, input)
  await makeParents(target, input)
  await removeOrphanPartials(target)
  const temp = partialPath(target)
  try {
    const result = await write(temp)
    await rename(temp, target)
    return result
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined)
    throw e
  }
}
