// The content key of one distinct build: a digest of everything that decides its image. Two
// builds with the same key make the same image (up to timestamps), so the second can reuse it.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Exec } from '../exec.js'
import type { BuildSpec } from '../plan.js'
import { contextDigest } from './context.js'
import { readIgnoreFile } from './dockerignore.js'
import { reuseKeyTag } from '../trust.js'
import { jsonArray, parseDockerfile, resolveFrom, type DockerfileModel } from '../dockerfile.js'

/** Bumped when what goes into a key changes: old keys then never match. */
const KEY_VERSION = 1
/** Hex digits of the key (128 bits). */
const KEY_LENGTH = 32

export interface KeyOptions {
  /** What the build is for; awaited last, so the rest of the key is made while it is found. */
  platforms: string[] | Promise<string[]>
  /** Ids of the BuildKit secrets passed (never their values). */
  secretIds: string[]
  /** Build args whose values are secret (BUILD_AUTH): only their names go into the key. */
  secretArgs: string[]
  /** The digest an image reference resolves to now (manifest or index digest). */
  resolveDigest: (ref: string) => Promise<string>
  exec: Exec
  env?: NodeJS.ProcessEnv
  /** Use git's index for unchanged files (default true). */
  git?: boolean
  /** Blob ids git vouches for in a context directory, when read once for several builds. */
  knownBlobs?: (contextPath: string) => Promise<Map<string, string>>
}

export type BuildKey =
  | { key: string; note?: string; contextFiles: number; hashedFiles: number }
  /** No key: the build cannot be reused, and why (said once in the log). */
  | { key: null; reason: string }

/** Build args whose value differs on every build. */
const PER_BUILD = ['BUILD_ID']

/** The key of a build, or why it has none. */
export async function buildKey(spec: BuildSpec, o: KeyOptions): Promise<BuildKey> {
  const perBuild = PER_BUILD.filter(a => Object.hasOwn(spec.argValues, a))
  if (perBuild.length > 0) {
    return {
      key: null,
      reason: `its Dockerfile declares ${perBuild.join(' and ')}, which changes on every build: built every time`
    }
  }
  const dockerfile = readFileSync(spec.dockerfilePath)
  const model = parseDockerfile(dockerfile.toString('utf8'))
  const remote = remoteSource(model)
  if (remote) {
    return { key: null, reason: `its Dockerfile adds ${remote}, unknown before building` }
  }
  const ignore = readIgnoreFile(spec.contextPath, spec.dockerfilePath)
  const images = imageRefs(model, spec.argValues)
  const [context, digests, platforms] = await Promise.all([
    contextDigest(spec.contextPath, ignore.patterns, {
      exec: o.exec,
      env: o.env,
      git: o.git,
      known: o.knownBlobs?.(spec.contextPath)
    }),
    Promise.all(images.map(async ref => [ref, await o.resolveDigest(ref)] as const)),
    o.platforms
  ])
  const args = Object.keys(spec.argValues)
    .sort()
    .map(n => (o.secretArgs.includes(n) ? [n] : [n, spec.argValues[n]!]))
  const material = JSON.stringify({
    v: KEY_VERSION,
    context: context.digest,
    dockerfile: sha256(dockerfile),
    // The Dockerfile's name matters to BuildKit only through its ignore file, read above.
    target: spec.target,
    platforms,
    args,
    secrets: [...new Set(o.secretIds)].sort(),
    images: digests
  })
  const note = Object.hasOwn(spec.argValues, 'BUILD_GIT_SHA')
    ? 'its Dockerfile declares BUILD_GIT_SHA, which changes with every commit: reused only for the same commit'
    : undefined
  return {
    key: sha256(material).slice(0, KEY_LENGTH),
    note,
    contextFiles: context.entries,
    hashedFiles: context.hashed
  }
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Every image the build reads, resolved with its args: the `# syntax=` frontend, each FROM that
 * is not a stage or scratch, and `COPY --from` / `RUN --mount from=` images.
 */
export function imageRefs(model: DockerfileModel, buildArgs: Record<string, string>): string[] {
  const refs: string[] = []
  const add = (ref: string | null): void => {
    if (ref && !refs.includes(ref)) refs.push(ref)
  }
  add(model.syntax || null)
  const stageNames = new Set(model.stages.map(s => s.name.toLowerCase()).filter(Boolean))
  const isStage = (from: string): boolean =>
    /^\d+$/.test(from) || stageNames.has(from.toLowerCase()) || from.toLowerCase() === 'scratch'
  for (const stage of model.stages) {
    add(resolveFrom(model, stage, buildArgs))
    for (const ins of stage.instructions) {
      for (const flag of ins.flags) {
        let from: string | undefined
        if (ins.keyword === 'COPY' && flag.startsWith('--from=')) from = flag.slice(7)
        if (ins.keyword === 'RUN' && flag.startsWith('--mount=')) {
          from = flag
            .slice(8)
            .split(',')
            .find(f => f.startsWith('from='))
            ?.slice(5)
        }
        if (from && !from.includes('$') && !isStage(from)) add(from)
      }
    }
  }
  return refs
}

/** An ADD source fetched at build time (a URL or a git repository), or null. */
function remoteSource(model: DockerfileModel): string | null {
  for (const stage of model.stages) {
    for (const ins of stage.instructions) {
      if (ins.keyword !== 'ADD') continue
      const source = addSources(ins.text).find(a =>
        /^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/i.test(a)
      )
      if (source) return source
    }
  }
  return null
}

/** The sources of an ADD (every word but the destination), in shell or JSON form. */
function addSources(text: string): string[] {
  const json = jsonArray(text)
  // Not JSON: BuildKit reads it as shell form.
  return (Array.isArray(json) ? json : text.trim().split(/\s+/)).slice(0, -1)
}

/** The tag recording a key on a protected run's image: `<service>.<key>`, at most 128 characters. */
export function keyTag(service: string, key: string): string {
  return reuseKeyTag(service, key)
}
