// Picks the engine: buildx when it is installed and has a usable builder, else buildctl against
// buildkit-host, else a UserError that says what to install.
import { UserError } from '../errors.js'
import { lastLines, type Exec } from '../exec.js'
import type { EngineName } from '../settings.js'
import { buildctlEngine, buildctlGlobalArgs } from './buildctl.js'
import { buildxEngine } from './buildx.js'
import type { BuilderNode, Engine } from './types.js'

export interface SelectOptions {
  engine: EngineName
  builder: string
  buildkitHost: string
  /** buildctl's TLS flags (file paths, writeBuildkitTls). */
  buildkitTls?: string[]
  exec: Exec
  /** Full environment for the probes (with the private DOCKER_CONFIG / BUILDX_CONFIG). */
  env: NodeJS.ProcessEnv
  signal?: AbortSignal
}

/** The `Driver:` of `docker buildx inspect` (it has no machine-readable format). */
export function parseBuildxDriver(inspectOutput: string): string {
  return /^Driver:\s*(\S+)/m.exec(inspectOutput)?.[1] ?? ''
}

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/

/** The first of a platform list (`linux/arm64*, linux/amd64`), '' when it is not a platform. */
function firstPlatform(list: string): string {
  const first = list.split(',')[0]?.trim().replace(/\*$/, '') ?? ''
  return PLATFORM.test(first) ? first : ''
}

/**
 * The nodes of `docker buildx inspect`, each with the first of its `Platforms:` (buildx lists a
 * node's configured platforms first, marked `*`), in node order.
 */
export function parseBuildxNodes(output: string): BuilderNode[] {
  const nodes: BuilderNode[] = []
  let name = ''
  for (const line of output.split('\n')) {
    const m = /^\s*(Name|Platforms):[ \t]*(\S[^\n]*)$/.exec(line)
    if (m?.[1] === 'Name') name = (m[2] ?? '').trim()
    else if (m) nodes.push({ name, platform: firstPlatform(m[2] ?? '') })
  }
  return nodes.filter(n => n.platform !== '')
}

/**
 * The builder's own platforms: each buildx node's (parseBuildxNodes), or the first of each
 * worker's in `buildctl debug workers`' PLATFORMS column; once each, in order; empty when absent.
 */
export function parseBuilderPlatforms(output: string): string[] {
  const table = /^ID\s+PLATFORMS\s*\n((?:\S+[ \t]+\S+[^\n]*(?:\n|$))+)/m.exec(output)?.[1] ?? ''
  const workers = [...table.matchAll(/^\S+[ \t]+(\S+)/gm)].map(m => firstPlatform(m[1] ?? ''))
  const nodes = parseBuildxNodes(output).map(n => n.platform)
  return [...new Set((nodes.length > 0 ? nodes : workers).filter(p => p !== ''))]
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
  return {
    ok: true,
    engine: buildxEngine(o.builder, driver, parseBuildxNodes(inspect.stdout))
  }
}

async function probeBuildctl(o: SelectOptions): Promise<Engine> {
  const addr = o.buildkitHost
  let result
  try {
    result = await o.exec(
      'buildctl',
      [...buildctlGlobalArgs(addr, o.buildkitTls), 'debug', 'workers'],
      {
        env: o.env,
        signal: o.signal
      }
    )
  } catch (e) {
    throw new UserError({
      input: 'engine',
      message: `buildctl is not installed (${(e as Error).message}): install BuildKit's buildctl or use engine buildx`
    })
  }
  if (result.exitCode !== 0) {
    const why = lastLines(result.stderr || result.stdout, 1)
    // A daemon that wants a client certificate closes the connection before HTTP/2 starts.
    const hint =
      /server preface|tls|x509|certificate/i.test(why) && !o.buildkitTls?.includes('--tlscert')
        ? ' (does it require mutual TLS? set buildkit-tls-ca, buildkit-tls-cert and buildkit-tls-key)'
        : ''
    throw new UserError({
      input: 'buildkit-host',
      message: `BuildKit at ${addr} is not reachable: ${why}${hint}`
    })
  }
  return buildctlEngine(addr, parseBuilderPlatforms(result.stdout), o.buildkitTls)
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
