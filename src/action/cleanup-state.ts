import * as core from '@actions/core'
import { scrub } from './summary.js'

const KEY = 'cleanup'

/** Records the paths the post step removes (private docker config, temp files). */
export function saveCleanupPaths(paths: string[], secrets: string[]): void {
  // State is written to a file on the runner: keep secrets out of it even by accident.
  core.saveState(KEY, scrub(JSON.stringify(paths), secrets))
}

export function cleanupPaths(): string[] {
  const raw = core.getState(KEY)
  if (!raw) return []
  try {
    const v: unknown = JSON.parse(raw)
    return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string' && p !== '') : []
  } catch {
    return []
  }
}
