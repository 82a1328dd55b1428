import type { BuildSpec } from '../plan.js'
import type { BuildSecret } from '../settings.js'
import type { CacheOptions } from './cache.js'
import type { BuildCheck } from './progress.js'

/** Where a build's image goes. */
export type BuildOutput =
  /** Pushed under every tag (one push, several names). */
  | { type: 'push' }
  /** BuildKit's OCI archive at dest (for the export to repack). */
  | { type: 'oci'; dest: string }
  /** Nothing but the cache (buildx with the `docker` driver still loads the tags). */
  | { type: 'none' }

/** Everything one engine invocation needs. */
export interface BuildRequest {
  /** Index in plan.builds. */
  index: number
  spec: BuildSpec
  /** Image refs to name the result, one per service of the build. */
  tags: string[]
  output: BuildOutput
  cache: CacheOptions
  noCache: boolean
  platforms: string[]
  secrets: BuildSecret[]
  /** Build-arg names whose values must not be on the command line (BUILD_AUTH). */
  secretArgs: string[]
  /** The reuse content key the build is pushed under, when it has one. */
  reuseKey?: string
  metadataFile: string
  /** BuildKit's Dockerfile checks; default warn (the Dockerfile's own `# check=` directive). */
  buildChecks?: 'warn' | 'error' | 'off'
}

/** A program to run: its args never hold a secret value. */
export interface EngineCommand {
  command: string
  args: string[]
  /** Added to the child's environment: every secret value goes here. */
  env: Record<string, string>
}

/** A node of a buildx builder: its name and its own platform. */
export interface BuilderNode {
  name: string
  platform: string
}

export interface Engine {
  name: 'buildx' | 'buildctl'
  /** Human description for logs, e.g. `buildx (builder rig, driver remote)`. */
  description: string
  /** buildx driver (`docker`, `docker-container`, ...); `buildkit` for buildctl. */
  driver: string
  /**
   * The builder's own platforms: each node's first (e.g. `linux/amd64`, `linux/arm64` for a
   * builder with an amd64 and an arm64 node); absent when it did not say.
   */
  platforms?: string[]
  command(req: BuildRequest): EngineCommand
}

export interface BuildResult {
  index: number
  services: string[]
  /** `containerimage.digest` from the metadata file; '' when the output has none. */
  digest: string
  cachedSteps: number
  totalSteps: number
  durationMs: number
  log: string
  warnings: string[]
  /** BuildKit's Dockerfile checks, their file relative to the working directory. */
  checks?: BuildCheck[]
  /** Not built: the image of the same content key it was tagged from. */
  reusedFrom?: string
  /** The reuse content key of the build (reused or built under its key tags). */
  reuseKey?: string
  /** The cache export failed because the registry refused to overwrite its tag (the step and error). */
  cacheTagRefused?: string
}

/**
 * Environment name carrying a secret's value to the engine: one name per id (`a-b`, `a_b` and
 * `a.b` differ), every character but letters and digits written as `_` and its hex code.
 */
export function secretEnvName(id: string): string {
  const encoded = [...id]
    .map(c => (/[A-Za-z0-9]/.test(c) ? c : `_${c.codePointAt(0)!.toString(16).toUpperCase()}`))
    .join('')
  return `CONVOX_BUILD_SECRET_${encoded}`
}

/** Quotes a CSV field for buildx/buildctl's `--output` parser when it holds commas. */
export function csvField(s: string): string {
  return s.includes(',') || s.includes('"') ? `"${s.replace(/"/g, '""')}"` : s
}

/** The `--output` of a build (both engines parse it alike), named for every tag; none for `none`. */
export function outputFlag(req: BuildRequest): string | undefined {
  const names = csvField(`name=${req.tags.join(',')}`)
  switch (req.output.type) {
    case 'push':
      return `type=image,${names},push=true`
    case 'oci':
      return `type=oci,dest=${req.output.dest},${names}`
    case 'none':
      return undefined
  }
}

/**
 * A build arg for both engines: `NAME=value`, or for a secret arg a bare `NAME` with the value in
 * the child's env (each engine then reads NAME from its environment).
 */
export function buildArgValue(
  name: string,
  value: string,
  secretArgs: string[],
  env: Record<string, string>
): string {
  if (!secretArgs.includes(name)) return `${name}=${value}`
  env[name] = value
  return name
}

/** `--secret id=...,env=...` for both engines; the value travels in the child's env, never argv. */
export function secretFlag(id: string, env: Record<string, string>, value: string): string {
  const name = secretEnvName(id)
  env[name] = value
  return `id=${id},env=${name}`
}

/**
 * The Dockerfile frontend's BUILDKIT_DOCKERFILE_CHECK build arg (it overrides a `# check=`
 * directive): `error=true` fails the build on a check before any step runs, `skip=all` runs
 * none. Undefined for warn, or when the build args set it themselves.
 */
export function buildCheckArg(req: BuildRequest): string | undefined {
  if ('BUILDKIT_DOCKERFILE_CHECK' in req.spec.argValues) return undefined
  if (req.buildChecks === 'error') return 'BUILDKIT_DOCKERFILE_CHECK=error=true'
  if (req.buildChecks === 'off') return 'BUILDKIT_DOCKERFILE_CHECK=skip=all'
  return undefined
}
