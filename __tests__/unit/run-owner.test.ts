// After kill -9 a run cleans nothing: the next one removes its temp directory (the private docker
// config with registry passwords) and the `.partial` files it left, never a live run's. Real
// processes run core/run-owner.ts (it needs node's own modules only: transpiled as it is).
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import ts from 'typescript'
import { makeRunTempDir, OWNER, processStart } from '../../src/core/run-owner.js'
import { writeAtomically } from '../../src/core/target-file.js'

let work: string
let module: string
const children: ChildProcess[] = []

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'run-owner-'))
  const source = readFileSync(path.resolve('src/core/run-owner.ts'), 'utf8')
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
  }).outputText
  module = path.join(work, 'run-owner.mjs')
  await writeFile(module, js)
})
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL')
  await rm(work, { recursive: true, force: true })
})

/**
 * A run as far as its files go: its temp directory with a docker config in it, and an export
 * being written beside its target; it says where, then waits to be killed.
 */
async function startRun(
  base: string,
  target: string
): Promise<{ child: ChildProcess; dir: string; partial: string }> {
  const script = `
    import { mkdirSync, writeFileSync } from 'node:fs'
    import path from 'node:path'
    const { makeRunTempDir, partialPath } = await import(${JSON.stringify(module)})
    const dir = await makeRunTempDir(${JSON.stringify(base)}, [${JSON.stringify(target)}])
    writeFileSync(path.join(dir, 'config.json'), '{"auths":{"r":{"auth":"cGFzc3dvcmQ="}}}')
    mkdirSync(path.dirname(${JSON.stringify(target)}), { recursive: true })
    const partial = partialPath(${JSON.stringify(target)})
    writeFileSync(partial, 'half an export')
    console.log(JSON.stringify({ dir, partial }))
    setInterval(() => undefined, 1000)
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  children.push(child)
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('\n')) resolve(out.trim())
    })
    child.on('exit', code => reject(new Error(`run exited with ${code}`)))
  })
  return { child, ...(JSON.parse(line) as { dir: string; partial: string }) }
}

const killed = (child: ChildProcess): Promise<void> =>
  new Promise(resolve => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })

/** Two runs writing `target`, the first killed with SIGKILL, the second alive. */
async function deadAndLive(base: string, target: string) {
  const dead = await startRun(base, target)
  const live = await startRun(base, target)
  await killed(dead.child)
  return { dead, live }
}

describe('what a killed run leaves', () => {
  it('is removed by the next run, while a live run keeps its files', async () => {
    const base = path.join(work, 'tmp')
    const target = path.join(work, 'out', 'app.tgz')
    const { dead, live } = await deadAndLive(base, target)
    // kill -9 cleans nothing
    expect(existsSync(path.join(dead.dir, 'config.json'))).toBe(true)
    expect(existsSync(dead.partial)).toBe(true)

    const next = await makeRunTempDir(base, [target])
    expect(existsSync(dead.dir)).toBe(false)
    expect(existsSync(dead.partial)).toBe(false)
    expect(readFileSync(path.join(live.dir, 'config.json'), 'utf8')).toContain('auths')
    expect(existsSync(live.partial)).toBe(true)
    expect((await readdir(base)).sort()).toEqual(
      [path.basename(live.dir), path.basename(next)].sort()
    )
    await killed(live.child)
  })

  it('is removed when the next run writes the same file, the live run’s partial kept', async () => {
    const base = path.join(work, 'tmp2')
    const target = path.join(work, 'out2', 'app.tgz')
    const { dead, live } = await deadAndLive(base, target)
    await writeAtomically(target, 'export', p => writeFile(p, 'whole'))
    expect(readFileSync(target, 'utf8')).toBe('whole')
    expect(existsSync(dead.partial)).toBe(false)
    expect(existsSync(live.partial)).toBe(true)
    await killed(live.child)
  })

  it('takes a live pid started at another time for a dead owner (the pid was reused)', async () => {
    const base = path.join(work, 'tmp3')
    const live = await startRun(base, path.join(work, 'out3', 'x'))
    const [machine, pid, start] = path.basename(live.dir).split('-').slice(2, 5) as string[]
    expect(start).toBe(processStart(Number(pid)))
    const reused = path.join(base, `convox-build-${machine}-${pid}-${Number(start) - 1}-AbC123`)
    const elsewhere = path.join(base, `convox-build-00000000-999999-1-AbC123`)
    for (const d of [reused, elsewhere]) await writeFile(d, '')
    await makeRunTempDir(base)
    expect(existsSync(reused)).toBe(false)
    // another machine's (or container's) pids mean nothing here
    expect(existsSync(elsewhere)).toBe(true)
    expect(existsSync(live.dir)).toBe(true)
    expect(OWNER.split('-')[1]).toBe(String(process.pid))
    await killed(live.child)
  })
})
