// The action's post step: removes what the main step left on the runner. Warns, never fails.
import { rm } from 'node:fs/promises'
import * as core from '@actions/core'
import { cleanupPaths } from './cleanup-state.js'

export async function runPost(): Promise<void> {
  for (const p of cleanupPaths()) {
    try {
      await rm(p, { recursive: true, force: true })
      core.debug(`removed ${p}`)
    } catch (e) {
      core.warning(`could not remove ${p}: ${(e as Error).message}`)
    }
  }
}

runPost().catch((e: unknown) => core.warning(`cleanup failed: ${(e as Error).message}`))
