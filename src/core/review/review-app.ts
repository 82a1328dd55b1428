// A pull request's review app: its name on the rack, its env, and the check that a name about to
// be deleted is this pull request's review app. Pure: the pipeline's review step does the calls.
import { createHash } from 'node:crypto'
import { UserError, type Problem } from '../errors.js'
import type { RackService } from '../rack/index.js'

/**
 * The longest Kubernetes namespace name (a DNS label, RFC 1123): provider/k8s keeps an app in
 * the namespace `<rack>-<app>` (Provider.AppNamespace), and AppCreate checks no name rule of its
 * own (provider/k8s/app.go appNameValidate: only `rack`/`system` and an existing namespace).
 */
const NAMESPACE_MAX = 63
/** The hex digits of the hash a shortened name keeps of the full one. */
const HASH_LENGTH = 6

/**
 * `<app>-pr-<number>`, or when `<rack>-<name>` would pass 63 characters, the app's name cut and
 * a short hash of the full name in its place: `<app cut>-<hash>-pr-<number>`, the same every run.
 */
export function reviewAppName(app: string, pullRequest: string, rack: string): string {
  if (!/^[1-9][0-9]*$/.test(pullRequest)) {
    throw new UserError({
      input: 'review',
      message: `"${pullRequest}" is not a pull request number`
    })
  }
  const suffix = `-pr-${pullRequest}`
  const full = `${app}${suffix}`
  const max = NAMESPACE_MAX - rack.length - 1
  if (full.length <= max) return full
  const keep = max - suffix.length - HASH_LENGTH - 1
  const cut = app.slice(0, Math.max(0, keep)).replace(/-+$/, '')
  if (!/^[a-z0-9]/.test(cut)) {
    throw new UserError({
      input: 'review',
      message: `rack ${rack}: no review app name for ${full} fits its namespace (63 characters)`
    })
  }
  const hash = createHash('sha256').update(full).digest('hex').slice(0, HASH_LENGTH)
  return `${cut}-${hash}${suffix}`
}

/** True when `name` is the review app of this app's pull request, and not the app itself. */
export function isReviewAppOf(
  name: string,
  app: string,
  pullRequest: string,
  rack: string
): boolean {
  return name !== app && name === reviewAppName(app, pullRequest, rack)
}

/** Convox's env keys (pkg/structs Environment: a shell variable name). */
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * The `review-env` lines as KEY=VALUE (blank lines skipped, the value verbatim, the last one
 * winning); a line that is not one is a problem naming its line, never its value.
 */
export function parseReviewEnv(lines: string[]): Record<string, string> {
  const env = new Map<string, string>()
  const problems: Problem[] = []
  lines.forEach((line, i) => {
    if (line.trim() === '') return
    const eq = line.indexOf('=')
    const key = eq < 0 ? '' : line.slice(0, eq).trim()
    if (!ENV_KEY.test(key)) {
      problems.push({
        input: 'review-env',
        message: `line ${i + 1} is not KEY=VALUE (a KEY of letters, digits and _)`
      })
      return
    }
    env.set(key, line.slice(eq + 1))
  })
  if (problems.length > 0) throw new UserError(problems)
  return Object.fromEntries(env)
}

/** An env as a release holds it (pkg/structs Environment.String): sorted KEY=VALUE lines. */
export function environmentText(env: Record<string, string>): string {
  return Object.keys(env)
    .sort()
    .map(k => `${k}=${env[k]}`)
    .join('\n')
}

/**
 * Each service's endpoint as ServiceList tells it (pkg/structs Service `domain`, the host the
 * rack's router serves it at over https); services without one are left out.
 */
export function endpointUrls(services: RackService[]): Record<string, string> {
  const urls: Record<string, string> = {}
  for (const s of services) {
    const host = (s.domain ?? '').trim()
    if (s.name && /^[A-Za-z0-9.-]+(:[0-9]+)?$/.test(host)) urls[s.name] = `https://${host}`
  }
  return urls
}
