// What the benchmarks run as "bake": `docker buildx bake` from a bake file as a bake user writes
// it for a Convox app: one target per service, a registry cache per service, push.
import { rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { spawnExec } from '../../src/core/exec.js'
import { check } from './common.js'

export interface BakeRun {
  /** The app's directory (contexts are relative to it). */
  app: string
  /** Repository the images and caches go to. */
  repo: string
  /** Build id: the images' tags are `<service>.<id>`. */
  id: string
  /** Service name to its build context. */
  targets: Array<[service: string, context: string]>
  builder: string
  env: NodeJS.ProcessEnv
}

/** The bake file: one target per service, `cache-from`/`cache-to` its own registry cache. */
export function bakeFile(run: Pick<BakeRun, 'repo' | 'id' | 'targets'>): unknown {
  const target: Record<string, unknown> = {}
  for (const [service, context] of run.targets) {
    target[service] = {
      context,
      dockerfile: 'Dockerfile',
      tags: [`${run.repo}:${service}.${run.id}`],
      'cache-from': [`type=registry,ref=${run.repo}:${service}.buildcache`],
      'cache-to': [`type=registry,ref=${run.repo}:${service}.buildcache,mode=max`],
      output: ['type=image,push=true']
    }
  }
  return { group: { default: { targets: run.targets.map(([s]) => s) } }, target }
}

/** Runs bake; returns its wall time in ms. */
export async function bake(run: BakeRun): Promise<number> {
  const file = path.join(run.app, 'docker-bake.json')
  await writeFile(file, JSON.stringify(bakeFile(run)))
  const t0 = Date.now()
  const r = await spawnExec(
    'docker',
    ['buildx', 'bake', '--builder', run.builder, '-f', file, '--progress', 'quiet'],
    { cwd: run.app, env: run.env }
  )
  const ms = Date.now() - t0
  check(r, 'docker buildx bake')
  await rm(file)
  return ms
}
