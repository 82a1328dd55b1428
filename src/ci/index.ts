// What both shells tell the core about where the build runs.
import type { CiContext } from '../core/commit.js'
import { noCi } from '../core/commit.js'
import type { Exec } from '../core/exec.js'
import type { Settings } from '../core/settings.js'
import { readCiContext } from './context.js'

/** The CI context of a run, started now (the pipeline awaits it when it needs the commit). */
export function ciOf(
  settings: Pick<Settings, 'workingDirectory' | 'gitSha' | 'trustedRefs'>,
  env: NodeJS.ProcessEnv,
  exec: Exec,
  signal?: AbortSignal
): Promise<CiContext> {
  return readCiContext({
    env,
    cwd: settings.workingDirectory,
    exec,
    gitSha: settings.gitSha,
    trustedRefs: settings.trustedRefs,
    signal
  }).catch(() => noCi(settings.gitSha))
}
