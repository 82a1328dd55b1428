/** A `WWW-Authenticate` challenge: the scheme and its parameters (names lowercased). */
export interface Challenge {
  scheme: string
  params: Record<string, string>
}

export interface Credentials {
  username: string
  password: string
}

/** Credentials for a registry host (`127.0.0.1:5050`, `docker.io`); undefined: anonymous. */
export type CredentialLookup = (host: string) => Credentials | undefined

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): one or more challenges, each a scheme and
 * comma-separated `name=value` / `name="quoted \"value\""` parameters.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = []
  let i = 0
  const n = header.length
  const skipSpace = (): void => {
    while (i < n && /[\s,]/.test(header[i] ?? '')) i++
  }
  const token = (): string => {
    const start = i
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i] ?? '')) i++
    return header.slice(start, i)
  }
  while (i < n) {
    skipSpace()
    const scheme = token()
    if (!scheme) break
    const current: Challenge = { scheme: scheme.toLowerCase(), params: {} }
    challenges.push(current)
    for (;;) {
      while (i < n && /[ \t]/.test(header[i] ?? '')) i++
      const save = i
      skipSpace()
      const name = token()
      while (i < n && /[ \t]/.test(header[i] ?? '')) i++
      if (!name || header[i] !== '=') {
        // Not a parameter: the next challenge's scheme (or a token68) starts here.
        i = save
        break
      }
      i++
      while (i < n && /[ \t]/.test(header[i] ?? '')) i++
      let value = ''
      if (header[i] === '"') {
        i++
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++
          value += header[i]
          i++
        }
        i++
      } else {
        const start = i
        while (i < n && header[i] !== ',' && !/\s/.test(header[i] ?? '')) i++
        value = header.slice(start, i)
      }
      current.params[name.toLowerCase()] = value
      while (i < n && /[ \t]/.test(header[i] ?? '')) i++
      if (header[i] === ',') i++
      else break
    }
  }
  return challenges
}

/** The challenge we can answer: Bearer preferred, then Basic. */
export function pickChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined
  const all = parseChallenges(header)
  return all.find(c => c.scheme === 'bearer') ?? all.find(c => c.scheme === 'basic')
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
}

/** The token endpoint URL for a Bearer challenge and the scopes a request needs. */
export function tokenUrl(challenge: Challenge, scopes: string[], account?: string): URL {
  const realm = challenge.params.realm
  if (!realm) throw new Error('Bearer challenge without a realm')
  const url = new URL(realm)
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service)
  for (const scope of scopes) url.searchParams.append('scope', scope)
  if (account) url.searchParams.set('account', account)
  return url
}

/** `repository:<name>:<actions>` as the distribution token spec writes it. */
export function repositoryScope(
  repository: string,
  actions: 'pull' | 'push' | 'pull,push'
): string {
  return `repository:${repository}:${actions}`
}
