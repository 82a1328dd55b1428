// Picks the engine: buildx when it is installed and has a usable builder, else buildctl against
// buildkit-host, else a UserError that says what to install.
import { UserError } from '../errors.js'
import { lastLines, type Exec } from '../exec.js'
import type { EngineName } from '../settings.js'
import { buildctlEngine } from './buildctl.js'
import { buildxEngine } from './buildx.js'
import type { Engine } from './types.js'

export interface SelectOptions {
  engine: EngineName
  builder: string
  buildkitHost: string
  exec: Exec
  /** Full environment for the probes (with the private DOCKER_CONFIG / BUILDX_CONFIG). */
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
}

/** The `Driver:` of `docker buildx inspect` (it has no machine-readable format). */
export function parseBuildxDriver(inspectOutput: string): string {
  return /^Driver:\s*(\S+)/m.exec(inspectOutput)?.[1] ?? ''
}

/**
 * The builder's own platform: the first of `docker buildx inspect`'s `Platforms:` (buildx marks
 * configured ones with `*`) or of `buildctl debug workers`' PLATFORMS column; '' when absent.
 */
export function parseBuilderPlatform(output: string): string {
  const buildx = /^\s*Platforms:\s*(\S[^\n]*)$/m.exec(output)?.[1]
  const buildctl = /^ID\s+PLATFORMS\s*\n\S+\s+(\S+)/m.exec(output)?.[1]
  const first = (buildx ?? buildctl ?? '').split(',')[0]?.trim().replace(/\*$/, '') ?? ''
  return /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(first) ? first : ''
}

async function probeBuildx(
  o: SelectOptions
): Promise<{ ok: true; engine: Engine } | { ok: false; why: string }> {
  const run = async (args: string[]) => {
    try {
      return await o.exec('docker', args, { env: o.env, signal: o.signal })
    } catch (e) {
      return { exitCode: 127, stdout: '', stderr: (e as Error).message }
    }
  }
  // Both at once: each is a docker process start, and version only explains a failed inspect.
  const [version, inspect] = await Promise.all([
    run(['buildx', 'version']),
    run(['buildx', 'inspect', ...(o.builder ? [o.builder] : [])])
  ])
  if (version.exitCode !== 0) {
    return { ok: false, why: `docker buildx is not usable: ${lastLines(version.stderr, 1)}` }
  }
  if (inspect.exitCode !== 0) {
    const which = o.builder ? `builder "${o.builder}"` : 'the current builder'
    return { ok: false, why: `${which} is not usable: ${lastLines(inspect.stderr, 1)}` }
  }
  const driver = parseBuildxDriver(inspect.stdout) || 'unknown'
  const platform = parseBuilderPlatform(inspect.stdout)
  return { ok: true, engine: buildxEngine(o.builder, driver, platform) }
}

async function probeBuildctl(o: SelectOptions): Promise<Engine> {
  const addr = o.buildkitHost
  let result
  try {
    result = await o.exec('buildctl', ['--addr', addr, 'debug', 'workers'], {
      env: o.env,
      signal: o.signal
    })
  } catch (e) {
    throw new UserError({
      input: 'engine',
      message: `buildctl is not installed (${(e as Error).message}): install BuildKit's buildctl or use engine buildx`
    })
  }
  if (result.exitCode !== 0) {
    throw new UserError({
      input: 'buildkit-host',
      message: `BuildKit at ${addr} is not reachable: ${lastLines(result.stderr || result.stdout, 1)}`
    })
  }
  return buildctlEngine(addr, parseBuilderPlatform(result.stdout))
}

export async function selectEngine(o: SelectOptions): Promise<Engine> {
  if (o.engine === 'buildctl') {
    if (!o.buildkitHost) {
      throw new UserError({
        input: 'buildkit-host',
        message:
          'engine buildctl needs buildkit-host (or BUILDKIT_HOST), the BuildKit daemon address'
      })
    }
    return probeBuildctl(o)
  }
  const buildx = await probeBuildx(o)
  if (buildx.ok) return buildx.engine
  if (o.engine === 'buildx') throw new UserError({ input: 'engine', message: buildx.why })
  if (o.buildkitHost) return probeBuildctl(o)
  throw new UserError({
    input: 'engine',
    message: `no BuildKit engine found: ${buildx.why}. Install Docker with buildx (docker/setup-buildx-action), or set buildkit-host to a BuildKit daemon for buildctl`
  })
}
