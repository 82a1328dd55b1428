import * as core from '@actions/core'
import type { Redactor } from '../core/secrets.js'

const KEY = 'cleanup'

/** Records the paths the post step removes (private docker config, temp files). */
export function saveCleanupPaths(paths: string[], secrets: Redactor): void {
  // State is written to a file on the runner: keep secrets out of it even by accident.
  core.saveState(KEY, secrets.redact(JSON.stringify(paths)))
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
