// The command lines of a process and its descendants, read from /proc every few milliseconds
// while it runs: what `ps` shows every user of the machine.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'

/**
 * Reads the command line of every process descending from `root`, every few milliseconds, until
 * stopped (other work on the machine is not ours to judge).
 */
export function watchProcessTable(root: number): { stop: () => Promise<string[]> } {
  const seen = new Set<string>()
  const ours = new Set<number>([root])
  let running = true
  const loop = (async () => {
    while (running) {
      for (const entry of await readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue
        const pid = Number(entry)
        try {
          if (!ours.has(pid)) {
            // /proc/<pid>/stat: `pid (comm) state ppid ...`; comm may hold spaces
            const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
            if (!ours.has(ppid)) continue
            ours.add(pid)
          }
          seen.add((await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' '))
        } catch {
          // gone meanwhile
        }
      }
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return [...seen]
    }
  }
}

/** The pids descending from `root` now (its children's children too), as /proc lists them. */
export function descendants(root: number): number[] {
  const found: number[] = []
  // a process gone meanwhile has no task or children files
  const read = <T>(f: () => T, none: T): T => {
    try {
      return f()
    } catch {
      return none
    }
  }
  const visit = (pid: number): void => {
    for (const tid of read(() => readdirSync(`/proc/${pid}/task`), [])) {
      const children = read(() => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8'), '')
      for (const c of children.split(' ').filter(Boolean).map(Number)) {
        found.push(c)
        visit(c)
      }
    }
  }
  visit(root)
  return found
}

export interface WatchedRun {
  code: number | null
  stdout: string
  stderr: string
  /** Every command line seen in the run's process tree. */
  cmdlines: string[]
}

/** Runs `node <args>` with its process tree watched. */
export function runWatched(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv }
): Promise<WatchedRun> {
  const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  const watcher = watchProcessTable(child.pid!)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => void (stdout += b.toString()))
  child.stderr.on('data', (b: Buffer) => void (stderr += b.toString()))
  return new Promise<WatchedRun>(resolve =>
    child.on('exit', async code =>
      resolve({ code, stdout, stderr, cmdlines: await watcher.stop() })
    )
  )
}
