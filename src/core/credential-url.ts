// URLs with a login in them, read as a rack writes them. The push target of an external build
// (BuildCreate's `repository`, provider/k8s/build.go) is `https://convox:<password>@api.<domain>/
// <app>` and a rack's own RACK_URL `https://convox:<password>@api...` (helpers.go), the password
// as it is, not URL-escaped: it may hold `/ # ? @ : % +`, spaces and any other character. A URL
// parser cuts it at the first `/`, `#` or `?` and takes the rest for host and path: the password
// would become part of every image and cache ref on a tool's argv. Here the userinfo of a URL ends
// at its last `@` (hosts and repository paths hold none); without a scheme (`user:pw@host/path`,
// `host/path@digest`) at the last `@` before the first `/`.

export interface RepositoryUrl {
  /** `host[:port]/path`: what refs and tool arguments carry. */
  repository: string
  /** `host[:port]`. */
  host: string
  /** `scheme://` as given, or '' when there was none. */
  scheme: string
  username: string
  password: string
  /** The password as written in the text (to mask it in that form too). */
  rawPassword: string
}

/** A login the run already has (the rack's): preferred when the userinfo is one way to write it. */
export interface KnownLogin {
  username: string
  password: string
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i
const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?)(:[0-9]{1,5})?$/i
/** Userinfo a URL writer escaped: only these characters, every `%` starting an escape. */
const ESCAPED = /^([A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*$/

/**
 * Reads a repository URL (or `host/path`, with or without userinfo). Never echoes the text in
 * an error: it may hold a password.
 */
export function parseRepositoryUrl(text: string, known: KnownLogin[] = []): RepositoryUrl {
  const scheme = SCHEME.exec(text)?.[0] ?? ''
  let rest = text.slice(scheme.length)
  const firstSlash = rest.indexOf('/')
  const at = scheme
    ? rest.lastIndexOf('@')
    : rest.lastIndexOf('@', firstSlash >= 0 ? firstSlash : rest.length)
  const userinfo = at >= 0 ? rest.slice(0, at) : undefined
  if (at >= 0) rest = rest.slice(at + 1)
  // Query and fragment belong to no repository (with the userinfo gone, none is a password's).
  rest = rest.replace(/[?#].*$/s, '')
  const slash = rest.indexOf('/')
  const host = slash >= 0 ? rest.slice(0, slash) : rest
  const repoPath = slash >= 0 ? rest.slice(slash).replace(/\/+$/, '') : ''
  if (!HOST.test(host) || /\s/.test(repoPath)) {
    throw new Error(
      'the repository is not a URL like https://<user>:<password>@<host>/<path> (not shown: it may hold a password)'
    )
  }
  const login = userinfo === undefined ? { username: '', password: '' } : readLogin(userinfo, known)
  const colon = userinfo?.indexOf(':') ?? -1
  const rawPassword = colon >= 0 ? userinfo!.slice(colon + 1) : ''
  return { repository: host + repoPath, host, scheme, ...login, rawPassword }
}

/** The userinfo's login: as written, or unescaped when it reads as escaped (or matches `known`). */
function readLogin(userinfo: string, known: KnownLogin[]): KnownLogin {
  const colon = userinfo.indexOf(':')
  const rawUser = colon >= 0 ? userinfo.slice(0, colon) : userinfo
  const rawPassword = colon >= 0 ? userinfo.slice(colon + 1) : ''
  const raw = { username: rawUser, password: rawPassword }
  if (!ESCAPED.test(userinfo)) return raw
  const decoded = { username: safeDecode(rawUser), password: safeDecode(rawPassword) }
  // `a%41` may be a raw password or an escaped `aA`: the run's own login decides.
  for (const k of known) {
    if (k.password === raw.password && k.username === raw.username) return raw
    if (k.password === decoded.password && k.username === decoded.username) return decoded
  }
  return decoded
}

/** The URL without its credentials: scheme, host and path. */
export function withoutCredentials(text: string): string {
  const u = parseRepositoryUrl(text)
  return u.scheme + u.repository
}

/** A URL component decoded; as it is when it is not valid URL encoding. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
