// Docker image reference grammar (the distribution reference spec): [host[:port]/]path[:tag][@digest].

const HOST_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const HOST = new RegExp(
  `^(?:${HOST_COMPONENT}(?:\\.${HOST_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`
)
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/

/** Why `ref` is not a valid image reference, or null when it is. */
export function imageReferenceProblem(ref: string): string | null {
  if (ref === '') return 'is empty'
  if (/\s/.test(ref)) return 'contains whitespace'
  let rest = ref
  const at = rest.indexOf('@')
  if (at >= 0) {
    const digest = rest.slice(at + 1)
    if (!DIGEST.test(digest)) return `has an invalid digest "${digest}" (expected algorithm:hex)`
    rest = rest.slice(0, at)
  }
  const slash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > slash) {
    const tag = rest.slice(colon + 1)
    if (!TAG.test(tag)) {
      return `has an invalid tag "${tag}" (a tag is 1 to 128 letters, digits, _, . or -, and does not start with . or -)`
    }
    rest = rest.slice(0, colon)
  }
  if (rest === '') return 'has no repository name'
  if (rest.length > 255) return 'has a repository name longer than 255 characters'
  const parts = rest.split('/')
  const first = parts[0] ?? ''
  // The first part is a registry host when it looks like one (as docker decides).
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))
  ) {
    if (!HOST.test(first)) return `has an invalid registry host "${first}"`
    parts.shift()
  }
  for (const p of parts) {
    if (!PATH_COMPONENT.test(p)) {
      return p === ''
        ? 'has an empty path component'
        : /[A-Z]/.test(p)
          ? `has "${p}" in its repository name: repository names must be lowercase`
          : `has an invalid repository name component "${p}"`
    }
  }
  return null
}

export function isValidImageReference(ref: string): boolean {
  return imageReferenceProblem(ref) === null
}
