// The CI's OIDC identity token for keyless signing: `SIGSTORE_ID_TOKEN` wherever it is set (the
// variable cosign and GitLab's Sigstore docs name), else the CI's own way (its adapter's idToken:
// GitHub's token service, Buildkite's and CircleCI's agents). Each token read is added to the
// run's secrets before anyone sees it.
import type { Exec } from '../core/exec.js'
import { BODY_LIMITS, exchange } from '../core/http.js'
import { jwtClaims } from '../core/jwt.js'
import type { Redactor } from '../core/secrets.js'
import type { CiAdapter, Env } from './adapter.js'

/** What an adapter's idToken may use. */
export interface IdTokenIo {
  exec: Exec
  signal?: AbortSignal
}

const TIMEOUT_MS = 30_000
/** A JWT's shape: three base64url parts. Anything else (an error page) is no token. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** Variables a user sets to hand any CI's token over (GitLab's `id_tokens` names it). */
export const ID_TOKEN_VARIABLES = ['SIGSTORE_ID_TOKEN'] as const

/** The token, checked to be a JWT; undefined otherwise. */
function jwtOrNothing(text: string | undefined): string | undefined {
  const t = (text ?? '').trim()
  return JWT.test(t) ? t : undefined
}

/**
 * The run's `idToken(audience)`: asked lazily (a run that signs nothing asks nothing), of the
 * first adapter (src/ci/index.ts's table) whose CI this is; kept per audience until a minute
 * before it expires (a long build signs at its end).
 */
export function idTokenSource(
  env: Env,
  adapters: readonly CiAdapter[],
  io: IdTokenIo & { secrets: Redactor },
  now: () => number = Date.now
): (audience: string) => Promise<string | undefined> {
  const asked = new Map<string, Promise<string | undefined>>()
  const ask = async (audience: string): Promise<string | undefined> => {
    const given = jwtOrNothing(env.SIGSTORE_ID_TOKEN)
    const ci = adapters.find(a => a.detect(env))
    const token = given ?? jwtOrNothing(await ci?.idToken?.(env, audience, io))
    if (token) io.secrets.add(token)
    return token
  }
  return async audience => {
    const kept = await asked.get(audience)?.catch(() => undefined)
    if (kept && expiresAt(kept) - 60_000 > now()) return kept
    const p = ask(audience)
    asked.set(audience, p)
    return p
  }
}

/** A JWT's `exp` in ms; 0 when it has none readable (asked again each time). */
function expiresAt(token: string): number {
  const exp = jwtClaims(token).exp
  return typeof exp === 'number' ? exp * 1000 : 0
}

/** GitHub's token service (`permissions: id-token: write`), as @actions/core's getIDToken asks it. */
export async function githubIdToken(
  env: Env,
  audience: string,
  io: IdTokenIo
): Promise<string | undefined> {
  const base = env.ACTIONS_ID_TOKEN_REQUEST_URL
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
  if (!base || !bearer) return undefined
  const url = new URL(base)
  url.searchParams.set('audience', audience)
  const a = await exchange({
    method: 'GET',
    url,
    headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' },
    timeoutMs: TIMEOUT_MS,
    maxBytes: BODY_LIMITS.small,
    signal: io.signal
  })
  if (!a.ok) throw new Error(`GitHub's OIDC token service answered HTTP ${a.status}`)
  const value = (JSON.parse(a.text()) as { value?: unknown }).value
  return typeof value === 'string' ? value : undefined
}

/** A token a CI's agent prints (Buildkite's, CircleCI's): its stdout, or nothing on failure. */
export async function agentIdToken(
  command: string,
  args: string[],
  io: IdTokenIo
): Promise<string | undefined> {
  try {
    const r = await io.exec(command, args, { signal: io.signal })
    return r.exitCode === 0 ? r.stdout.trim() : undefined
  } catch {
    return undefined
  }
}
