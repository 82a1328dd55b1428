import { UserError } from '../errors.js'

/** A parsed image reference, normalised the way Docker does (`busybox` → docker.io/library/busybox:latest). */
export interface ImageReference {
  /** Registry host as named (`docker.io` for Docker Hub), with port when given. */
  registry: string
  /** Repository path, e.g. `library/busybox`. */
  repository: string
  /** Tag; `latest` when neither tag nor digest was given. */
  tag?: string
  /** `sha256:<hex>` when the reference is pinned. */
  digest?: string
}

/** A repository on a registry (no tag). */
export interface RepositoryName {
  registry: string
  repository: string
}

export const DOCKER_HUB = 'docker.io'

/** The host names that all mean Docker Hub (`docker.io` is how a reference names it). */
const DOCKER_HUB_ALIASES: readonly string[] = [
  DOCKER_HUB,
  'index.docker.io',
  'registry-1.docker.io'
]

/** True when `host` is one of Docker Hub's names, exactly as written (no case folding). */
export function isDockerHubHost(host: string): boolean {
  return DOCKER_HUB_ALIASES.includes(host)
}

/**
 * True when the first part of a name is a registry host rather than a Docker Hub path, as Docker
 * decides: it has a dot or a port, or is `localhost`.
 */
export function looksLikeRegistryHost(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost'
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
export const DOMAIN = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.%]+\\])(?::[0-9]+)?$`
)
export const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const MAX_NAME = 255

/**
 * Parses an image reference. Throws a UserError naming the reference (and `input` when given)
 * for anything Docker would reject.
 */
export function parseReference(text: string, input?: string): ImageReference {
  const parsed = analyseReference(text)
  if (typeof parsed === 'string') {
    throw new UserError({ message: `image reference "${text}" ${parsed}`, input })
  }
  return parsed
}

/** Why `text` is not an image reference Docker accepts (`has an invalid tag ...`), or null. */
export function imageReferenceProblem(text: string): string | null {
  const parsed = analyseReference(text)
  return typeof parsed === 'string' ? parsed : null
}

/** The parsed reference, or why it is not one. */
function analyseReference(text: string): ImageReference | string {
  const ref = text.trim()
  if (ref === '') return 'is empty'
  if (/\s/.test(ref)) return 'contains whitespace'
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref))
    return 'has a URL scheme: give the image without a URL scheme'

  let rest = ref
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) return `has an invalid digest "${digest}" (expected algorithm:hex)`
    if (digest.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(digest)) {
      return 'has an invalid digest: a sha256 digest is 64 lowercase hex characters'
    }
  }

  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) {
      return `has an invalid tag "${tag}" (a tag is 1 to 128 letters, digits, _, . or -, and does not start with . or -)`
    }
  }
  if (rest === '') return 'has no repository name'

  let registry = DOCKER_HUB
  let repository = rest
  const slash = rest.indexOf('/')
  if (slash >= 0) {
    const first = rest.slice(0, slash)
    // Docker also takes a first part with capitals for a host (a path is lowercase).
    if (looksLikeRegistryHost(first) || /[A-Z]/.test(first)) {
      registry = first
      repository = rest.slice(slash + 1)
      if (!DOMAIN.test(registry)) return `has an invalid registry host "${registry}"`
    }
  }
  if (isDockerHubHost(registry)) registry = DOCKER_HUB
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`

  for (const part of repository.split('/')) {
    if (part === '') return 'has an empty path component'
    if (/[A-Z]/.test(part)) {
      return `has "${part}" in its repository name: a repository name must be lowercase`
    }
    if (!PATH_COMPONENT.test(part)) return `has an invalid repository name component "${part}"`
  }
  if (registry.length + 1 + repository.length > MAX_NAME) {
    return `has a repository name longer than ${MAX_NAME} characters`
  }

  if (tag === undefined && digest === undefined) tag = 'latest'
  const parsed: ImageReference = { registry, repository }
  if (tag !== undefined) parsed.tag = tag
  if (digest !== undefined) parsed.digest = digest
  return parsed
}

/** Parses a repository without tag or digest (e.g. the `registry` input). */
export function parseRepository(text: string, input?: string): RepositoryName {
  const t = text.trim()
  if (t.includes('@') || t.lastIndexOf(':') > t.lastIndexOf('/')) {
    throw new UserError({
      message: `invalid repository "${text}": give a repository without tag or digest`,
      input
    })
  }
  const ref = parseReference(t, input)
  return { registry: ref.registry, repository: ref.repository }
}

/** The full reference: `registry/repository[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  return (
    `${ref.registry}/${ref.repository}` +
    (ref.tag !== undefined ? `:${ref.tag}` : '') +
    (ref.digest !== undefined ? `@${ref.digest}` : '')
  )
}

/** What the registry API calls the manifest: the digest when pinned, else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest'
}

/** The same repository at a digest. */
export function withDigest(repo: RepositoryName, digest: string): ImageReference {
  return { registry: repo.registry, repository: repo.repository, digest }
}

/** True for hosts reached over plain HTTP: localhost, 127.0.0.0/8 and ::1 (any port). */
export function isLoopbackHost(host: string): boolean {
  let name = host
  if (name.startsWith('[')) name = name.slice(1, name.indexOf(']'))
  else if (name.split(':').length === 2) name = name.split(':')[0] ?? ''
  name = name.toLowerCase()
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  if (name === '::1' || name === '0:0:0:0:0:0:0:1') return true
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
}
