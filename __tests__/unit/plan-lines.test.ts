// The "Plan" group of the log: one line per build and per image service, never arg values.
import { describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '../../src/core/log.js'
import { createPlan, planLines } from '../../src/core/plan.js'
import { readSettings } from '../../src/core/settings.js'

const examples = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples')

describe('planLines', () => {
  it('summarises each build: services, context/Dockerfile, target, arg names', async () => {
    const inputs: Record<string, string> = {
      app: 'example',
      'build-args': 'BUILD_GIT_SHA\nVERSION=1.2.3-secretish',
      development: 'true'
    }
    const settings = readSettings(n => inputs[n] ?? '', { env: {}, cwd: examples })
    const plan = await createPlan(
      settings,
      { env: {}, gitSha: 'a'.repeat(40), description: 'd', buildId: 'BABCDEFGHIJ' },
      silentLogger
    )
    const lines = planLines(plan)
    expect(lines).toEqual([
      'example BABCDEFGHIJ: 4 services, 2 builds',
      'build 1: web, worker from Dockerfile, args BUILD_GIT_SHA VERSION',
      'build 2: api from api/Dockerfile.production, target development, args BUILD_GIT_SHA',
      'image: cache from busybox:1.36'
    ])
    expect(lines.join('\n')).not.toContain('1.2.3-secretish')
  })
})
