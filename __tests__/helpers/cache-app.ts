// The app the cache tests build: one service whose Dockerfile uses BUILD_ID only in its last
// step, so FROM, two RUNs and a COPY can come from a cache and the last RUN never does.
import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Plan } from '../../src/core/plan.js'
import { buildId, makePlan } from './engine-plan.js'

export const CACHE_APP_SERVICE = 'web'

/** Writes the app into a new directory (a salt of its own: no other test shares its steps). */
export async function writeCacheApp(prefix = 'cache-app-'): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), prefix))
  const salt = randomBytes(6).toString('hex')
  await writeFile(
    path.join(root, 'Dockerfile'),
    [
      'FROM busybox',
      `RUN echo ${salt} > /one`,
      'RUN echo two > /two',
      'COPY hello.txt /hello.txt',
      'ARG BUILD_ID',
      'RUN echo "$BUILD_ID" > /build-id',
      ''
    ].join('\n')
  )
  await writeFile(path.join(root, 'hello.txt'), 'hello\n')
  return root
}

/** A plan of the app under a new build id, which it receives as BUILD_ID. */
export function cacheAppPlan(root: string, registry: string): Plan {
  const id = buildId()
  return makePlan({
    root,
    registry,
    buildId: id,
    builds: [{ services: [CACHE_APP_SERVICE], context: '.', argValues: { BUILD_ID: id } }]
  })
}
