import { isIndexMediaType, type RegistryClient } from './client.js'
import { selectPlatform } from './index-platforms.js'
import {
  formatReference,
  withDigest,
  type ImageReference,
  type RepositoryName
} from './reference.js'

export interface ImageConfig {
  /** Digest of the manifest the reference names (an index's digest for a multi-platform image). */
  digest: string
  /** Digest of the platform's image manifest (same as `digest` for a single-platform image). */
  manifestDigest: string
  configDigest: string
  entrypoint: string[]
  cmd: string[]
  env: string[]
  /** The parsed config blob. */
  raw: Record<string, unknown>
}

/** Reads an image's config (for `platform` when the reference is an index). */
export async function getImageConfig(
  client: RegistryClient,
  ref: ImageReference,
  platform = 'linux/amd64'
): Promise<ImageConfig> {
  const top = await client.getManifest(ref)
  let manifest = top
  if (isIndexMediaType(top.mediaType)) {
    const chosen = selectPlatform(top.json, platform)
    if (!chosen) throw new Error(`image ${formatReference(ref)} has no ${platform} manifest`)
    manifest = await client.getManifest(withDigest(ref, chosen.digest))
  }
  const config = manifest.json.config
  if (!config) throw new Error(`image ${formatReference(ref)}: manifest without a config`)
  const raw = await readConfigBlob(client, ref, config.digest)
  const inner = (raw.config ?? {}) as {
    Entrypoint?: string[] | null
    Cmd?: string[] | null
    Env?: string[] | null
  }
  return {
    digest: top.digest,
    manifestDigest: manifest.digest,
    configDigest: config.digest,
    entrypoint: inner.Entrypoint ?? [],
    cmd: inner.Cmd ?? [],
    env: inner.Env ?? [],
    raw
  }
}

/** An image's config blob, parsed. */
export async function readConfigBlob(
  client: RegistryClient,
  repo: RepositoryName,
  digest: string
): Promise<Record<string, unknown>> {
  return JSON.parse((await client.readBlob(repo, digest)).toString('utf8')) as Record<
    string,
    unknown
  >
}

const SPECIAL = '\\\'"`${[|&;<>()*?!'
const QUOTE_TRIGGERS = ' \t\n'

/**
 * Joins words into one shell-quoted string, as the rack stores an image's entrypoint on the build
 * (go-shellquote's Join): special characters backslash-escaped, words with blanks single-quoted.
 */
export function shellJoin(words: string[]): string {
  return words.map(shellQuote).join(' ')
}

function shellQuote(word: string): string {
  if (word === '') return "''"
  if ([...word].some(c => QUOTE_TRIGGERS.includes(c))) {
    // Single quotes; a quote inside closes the string, is escaped, and reopens it.
    return word
      .split("'")
      .map(part => (part === '' ? '' : `'${part}'`))
      .join("\\'")
  }
  let out = ''
  let first = true
  for (const c of word) {
    if (SPECIAL.includes(c) || (first && c === '~')) out += `\\${c}`
    else out += c
    first = false
  }
  return out
}
