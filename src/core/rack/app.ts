// What the rack says about an app that a build needs: the environment a new release inherits
// (manifest interpolation), the BuildArch parameter, and the CLI's environment drop guard.
import { UserError } from '../errors.js'
import { BUILD_ARCHES } from '../platform-choice.js'
import type { RackClient } from './client.js'

/**
 * A release's env text as pkg/structs/environment.go Environment.Load reads it: one `KEY=VALUE`
 * per line (a trailing CR dropped, as bufio.ScanLines does), the key trimmed, the value verbatim
 * up to the end of the line, lines without `=` or with an empty key skipped, the last one winning.
 */
export function parseEnvironment(text: string): Record<string, string> {
  const env = new Map<string, string>()
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    const i = line.indexOf('=')
    if (i < 0) continue
    const key = line.slice(0, i).trim()
    if (key) env.set(key, line.slice(i + 1))
  }
  // own properties only: a key like `__proto__` stays a key
  return Object.fromEntries(env)
}

/**
 * The env of the app's latest release, which a new release forks (provider/k8s/release.go
 * releaseFork): pkg/common/provider.go AppEnvironment (ReleaseLatest: ReleaseList limit 1, then
 * ReleaseGet). {} when the app has no release.
 */
export async function appEnvironment(
  client: RackClient,
  app: string
): Promise<Record<string, string>> {
  const [latest] = await client.releaseList(app, 1)
  if (!latest) return {}
  return parseEnvironment((await client.releaseGet(app, latest.id)).env ?? '')
}

const ARCHES: ReadonlySet<string> = new Set(BUILD_ARCHES)

/**
 * The app's `BuildArch` parameter as platforms (`linux/amd64`, `linux/arm64`); [] when unset.
 * The rack accepts amd64 or arm64 (provider/k8s/build.go BuildCreate; docs: app parameter
 * BuildArch); a comma-separated list is read as several.
 */
export async function appBuildArch(client: RackClient, app: string): Promise<string[]> {
  const value = ((await client.appGet(app)).parameters?.BuildArch ?? '').trim()
  if (!value) return []
  const platforms: string[] = []
  for (const part of value.split(',').map(p => p.trim().replace(/^linux\//, ''))) {
    if (!ARCHES.has(part)) {
      throw new UserError(
        `rack ${client.host}: app ${app} has BuildArch "${value}": it must be amd64 or arm64`
      )
    }
    if (!platforms.includes(`linux/${part}`)) platforms.push(`linux/${part}`)
  }
  return platforms
}

export interface EnvDropCheck {
  /** Variables set in the running release's env that the newest release lacks, sorted. */
  missing: string[]
  /** The release the app runs ('' when none). */
  running: string
  /** The newest release, which a new build's release inherits from ('' when none). */
  newest: string
}

/**
 * The environment drop guard of the CLI 3.25.1 (convox/convox #1059, #1062): a new build
 * inherits the env of the newest release, which differs from the running one after
 * `convox env set` / `unset` without --promote; what the running release has and the newest
 * lacks would be dropped.
 */
export async function envDropCheck(client: RackClient, app: string): Promise<EnvDropCheck> {
  const [a, [latest]] = await Promise.all([client.appGet(app), client.releaseList(app, 1)])
  const running = a.release ?? ''
  const newest = latest?.id ?? ''
  if (!running || !newest || running === newest) return { missing: [], running, newest }
  const [r, n] = await Promise.all([
    client.releaseGet(app, running),
    client.releaseGet(app, newest)
  ])
  const kept = parseEnvironment(n.env ?? '')
  const missing = Object.keys(parseEnvironment(r.env ?? ''))
    .filter(k => !Object.hasOwn(kept, k))
    .sort()
  return { missing, running, newest }
}
