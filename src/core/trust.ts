// Trust scopes: which registry tags and cache scopes a run may read and write. The shell (src/ci)
// tells the scope from the CI's word; every rule about what a scope reads and writes is here.
//   protected (default branch, tags, trusted-refs, a developer's own machine): reads and writes
//     the shared names the rack uses too: `<svc>.buildcache`, `<svc>.<key>`, gha `<app>-<svc>`;
//   untrusted (pull/merge requests, forks, other branches): reads its own names first, then the
//     protected ones; writes only its own: `<svc>.buildcache.<scope>`, `<svc>.<scope>.<key>`.
// A platform leg's cache names have its platform after the service (`<svc>.linux-arm64...`).
// A protected run never reads an untrusted name: each has the scope's name in it, and scope
// names are lowercase where build ids (the only other suffix) are capitals.
import { createHash } from 'node:crypto'
import { UserError } from './errors.js'
import type { Settings } from './settings.js'

export interface TrustScope {
  kind: 'protected' | 'untrusted'
  /** `main`, `pr-7`, `branch-feature-x`: a tag-safe name, at most SCOPE_NAME_MAX characters. */
  name: string
  /** Why: `pull_request from acme/app`. */
  reason: string
}

/** `linux/arm64/v8` → `linux-arm64-v8`: a platform as a part of a tag. */
export function platformTagPart(platform: string): string {
  return platform.replace(/\//g, '-')
}

/**
 * What a build's caches are named after: its first service, and a platform leg's platform
 * (`web.linux-arm64`), so that the legs of one build never write each other's cache tags.
 */
export function cacheName(service: string, platformLeg?: string): string {
  return platformLeg ? `${service}.${platformTagPart(platformLeg)}` : service
}

/** Keeps `<service>.buildcache.<scope>.<BUILD_ID>` within an OCI tag's 128 characters. */
export const SCOPE_NAME_MAX = 40

/** Outside any CI, or where no shell said: the user's own run. */
export const LOCAL_SCOPE: TrustScope = {
  kind: 'protected',
  name: 'local',
  reason: 'not in a CI (a run of your own)'
}

/**
 * `prefix-<text>` as a scope name: lowercase letters, digits and dashes; a long text is cut and
 * given a hash of the whole, so that two long branch names stay two scopes.
 */
export function scopeName(prefix: string, text: string): string {
  const clean = `${prefix}-${text}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
  if (clean.length <= SCOPE_NAME_MAX) return clean
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 8)
  return `${clean.slice(0, SCOPE_NAME_MAX - 9).replace(/-+$/, '')}-${hash}`
}

/** A trusted-refs glob as a regular expression: `*` within one path segment, `**` across. */
export function globRegExp(glob: string): RegExp {
  const body = glob
    .split(/(\*\*|\*|\?)/)
    .map(p =>
      p === '**'
        ? '.*'
        : p === '*'
          ? '[^/]*'
          : p === '?'
            ? '[^/]'
            : p.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    )
    .join('')
  return new RegExp(`^${body}$`)
}

/** The full git ref of a tag or branch: `refs/tags/v1`, `refs/heads/main`; '' for neither. */
export function fullRef(ref: { branch?: string; tag?: string }): string {
  return ref.tag ? `refs/tags/${ref.tag}` : ref.branch ? `refs/heads/${ref.branch}` : ''
}

/** The trusted-refs entry a ref matches: `refs/...` globs against the full ref, others the name. */
export function matchTrustedRef(
  globs: string[],
  ref: { branch?: string; tag?: string }
): string | undefined {
  const full = fullRef(ref)
  const name = ref.tag || ref.branch || ''
  if (!name) return undefined
  return globs.find(g => globRegExp(g).test(g.startsWith('refs/') ? full : name))
}

/**
 * Whether a full git ref (`refs/heads/main`, `refs/tags/v1`, `refs/pull/7/merge`) is protected by
 * the rule a run's scope follows (src/ci/trust.ts refScope): a tag, the default branch (main or
 * master where the CI names none), or a trusted-refs glob's.
 */
export function isProtectedRef(
  ref: string,
  p: { defaultBranch: string; trustedRefs: string[] }
): boolean {
  if (ref.startsWith('refs/tags/')) return true
  if (!ref.startsWith('refs/heads/')) return false
  const branch = ref.slice('refs/heads/'.length)
  const defaults = p.defaultBranch ? [p.defaultBranch] : ['main', 'master']
  return defaults.includes(branch) || matchTrustedRef(p.trustedRefs, { branch }) !== undefined
}

/** `scope pr-7 (untrusted): pull_request from acme/app`, for the log and the summary. */
export function describeScope(scope: TrustScope): string {
  return oneLine(`scope ${scope.name} (${scope.kind}): ${scope.reason}`)
}

/** Reasons quote branch and repository names: one line, whatever they hold. */
export const oneLine = (text: string): string => text.replace(/\p{Cc}+/gu, ' ')

const own = (scope: TrustScope | undefined): string =>
  scope?.kind === 'untrusted' ? `.${scope.name}` : ''

/**
 * The registry cache tag a run writes: the rack's `<service>.buildcache` (with a build id the
 * per-build tag of a rack with immutable tags), with an untrusted scope's name before the id.
 */
export function registryCacheTag(service: string, scope?: TrustScope, buildId?: string): string {
  return `${service}.buildcache${own(scope)}${buildId ? `.${buildId}` : ''}`
}

/** The tag keeping an inline cache findable. */
export function inlineCacheTag(service: string, scope?: TrustScope): string {
  return `${service}.inlinecache${own(scope)}`
}

/** The reuse tag of a key: `<service>.<key>`, or `<service>.<scope>.<key>`; at most 128 characters. */
export function reuseKeyTag(service: string, key: string, scope?: TrustScope): string {
  const suffix = `${own(scope)}.${key}`
  return `${service.slice(0, 128 - suffix.length)}${suffix}`
}

/** What a run reads, its own first: untrusted runs fall back to the protected name. */
export function readOrder<T>(scope: TrustScope | undefined, name: (s?: TrustScope) => T): T[] {
  return scope?.kind === 'untrusted' ? [name(scope), name(undefined)] : [name(undefined)]
}

/** The gha cache scope a run writes (`<base>`, or `<base>-<scope>`). */
export function ghaCacheScope(base: string, scope?: TrustScope): string {
  return scope?.kind === 'untrusted' ? `${base}-${scope.name}` : base
}

/** Settings that give the run a credential: what the fork guard protects. */
export type CredentialSettings = Pick<
  Settings,
  'registryPassword' | 'dockerHubPassword' | 'rackUrl' | 'convoxPassword' | 'secrets'
>

export function givenCredentials(s: CredentialSettings): string[] {
  const given: [string, boolean][] = [
    ['registry-password', Boolean(s.registryPassword)],
    ['docker-hub-password', Boolean(s.dockerHubPassword)],
    ['rack-url', Boolean(s.rackUrl)],
    ['convox-password', Boolean(s.convoxPassword)],
    ['secrets', s.secrets.length > 0]
  ]
  return given.filter(([, yes]) => yes).map(([name]) => name)
}

/**
 * The fork guard: a run of a fork's code in a trigger that has the repository's secrets
 * (pull_request_target, workflow_run, each CI's equivalent) is refused while it is given any
 * credential, before any network call, unless allow-fork-code says the code was reviewed.
 * `forkCode` is the shell's reason ('' when the code is not a fork's there).
 */
export function guardForkCode(
  forkCode: string,
  s: CredentialSettings & Pick<Settings, 'allowForkCode'>
): void {
  if (!forkCode || s.allowForkCode) return
  const given = givenCredentials(s)
  if (given.length === 0) return
  throw new UserError({
    input: 'allow-fork-code',
    message: `${oneLine(forkCode)}, and ${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} given: refusing to build a fork's code with credentials; check out the base instead, or review the code and set allow-fork-code: true`
  })
}
