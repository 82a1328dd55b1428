// What a run leaves in shared places (its temp directory with the private docker config, `.partial`
// files beside a target) is named after its owner: the machine, the pid and the process's start
// time (from /proc/<pid>/stat, so a reused pid is not taken for the owner). A run killed with
// SIGKILL cleans nothing; a later run on the same machine removes what belonged to a process that
// is gone, never a live run's files (nor those of another machine or container sharing the path).
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import path from 'node:path'

/** A process's start time in clock ticks after boot (field 22 of /proc/<pid>/stat); '' unknown. */
export function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces and parentheses: count from its closing one
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return /^\d+$/.test(fields[19] ?? '') ? (fields[19] as string) : ''
  } catch {
    return ''
  }
}

/** This machine (its pids are comparable to ours): host name and boot, hashed. */
const MACHINE = createHash('sha256')
  .update(`${hostname()}\0${readOr('/proc/sys/kernel/random/boot_id')}`)
  .digest('hex')
  .slice(0, 8)

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return ''
  }
}

/** This process as an owner: `<machine>-<pid>-<start>` (start 0 where there is no /proc). */
export const OWNER = `${MACHINE}-${process.pid}-${processStart(process.pid) || '0'}`

/** Matches an owner inside a name: machine, pid and start time. */
export const OWNER_PATTERN = '([0-9a-f]{8})-(\\d+)-(\\d+)'

/** Whether the process `pid` started at `start` ('0': not known) still runs. */
export function ownerAlive(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    // EPERM: it runs, as another user
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (start === '0') return true
  const now = processStart(pid)
  return now === '' || now === start
}

/**
 * Removes the entries of `dir` whose name `pattern` matches with a dead owner of this machine (the
 * pattern's first groups: OWNER_PATTERN's). Returns the paths removed; a directory that cannot be
 * read holds nothing to remove.
 */
export async function removeOrphans(dir: string, pattern: RegExp): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    const m = pattern.exec(name)
    if (!m || m[1] !== MACHINE || ownerAlive(Number(m[2]), m[3] as string)) continue
    const p = path.join(dir, name)
    await rm(p, { recursive: true, force: true }).catch(() => undefined)
    removed.push(p)
  }
  return removed
}

const RUN_DIR = new RegExp(`^convox-build-${OWNER_PATTERN}-[A-Za-z0-9]{6}$`)

/**
 * The run's own temp directory under `base` (`convox-build-<owner>-XXXXXX`), after removing those
 * of runs that were killed, and the `.partial` files they left beside `targets` (the export).
 */
export async function makeRunTempDir(base: string, targets: string[] = []): Promise<string> {
  await mkdir(base, { recursive: true })
  await removeOrphans(base, RUN_DIR)
  for (const t of targets) if (t) await removeOrphanPartials(t)
  return mkdtemp(path.join(base, `convox-build-${OWNER}-`))
}

/** Where `file` is written before it is renamed into place: beside it, named after its owner. */
export function partialPath(file: string): string {
  const name = `.${path.basename(file)}.${OWNER}.${randomBytes(4).toString('hex')}.partial`
  return path.join(path.dirname(file), name)
}

/** Removes the `.partial` files that runs killed while writing `file` left beside it. */
export async function removeOrphanPartials(file: string): Promise<string[]> {
  const target = path.resolve(file)
  const name = path.basename(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const pattern = new RegExp(`^\\.${name}\\.${OWNER_PATTERN}\\.[0-9a-f]{8}\\.partial$`)
  return removeOrphans(path.dirname(target), pattern)
}
