import path from 'node:path'
import type { Engine, BuildRequest, EngineCommand } from './types.js'
import { buildArgValue, buildCheckArg, outputFlag, secretFlag } from './types.js'

/**
 * buildctl against `addr`, any scheme buildctl takes (`tcp://`, `unix://`, `docker-container://`,
 * `kube-pod://`, ...) passed as it is; `tls` are its global TLS flags (file paths, never contents).
 */
export function buildctlEngine(addr: string, platforms: string[] = [], tls: string[] = []): Engine {
  return {
    name: 'buildctl',
    description: `buildctl (${addr}${tls.some(f => f === '--tlscert') ? ', mutual TLS' : ''})`,
    driver: 'buildkit',
    ...(platforms.length > 0 ? { platforms } : {}),
    command: req => buildctlCommand(req, addr, tls)
  }
}

/** buildctl's global flags: the daemon's address and TLS files. */
export function buildctlGlobalArgs(addr: string, tls: string[] = []): string[] {
  return ['--addr', addr, ...tls]
}

/**
 * `buildctl build ...` for one build, as the rack runs it plus our options. Secret values travel
 * in the child's environment, never argv: `--opt build-arg:NAME` without a value takes NAME from
 * buildctl's environment (as `docker buildx build --build-arg NAME` does).
 */
export function buildctlCommand(
  req: BuildRequest,
  addr: string,
  tls: string[] = []
): EngineCommand {
  const { spec } = req
  const args = [...buildctlGlobalArgs(addr, tls), 'build', '--frontend', 'dockerfile.v0']
  args.push('--local', `context=${spec.contextPath}`)
  args.push('--local', `dockerfile=${path.dirname(spec.dockerfilePath)}`)
  args.push('--opt', `filename=${path.basename(spec.dockerfilePath)}`)
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(spec.argValues)) {
    args.push('--opt', `build-arg:${buildArgValue(name, value, req.secretArgs, env)}`)
  }
  const check = buildCheckArg(req)
  if (check) args.push('--opt', `build-arg:${check}`)
  if (spec.target) args.push('--opt', `target=${spec.target}`)
  if (req.platforms.length > 0) args.push('--opt', `platform=${req.platforms.join(',')}`)
  for (const s of req.secrets) args.push('--secret', secretFlag(s.id, env, s.value))
  if (req.noCache) args.push('--no-cache')
  for (const c of req.cache.imports) args.push('--import-cache', c)
  for (const c of req.cache.exports) args.push('--export-cache', c)
  const output = outputFlag(req)
  if (output) args.push('--output', output)
  args.push('--metadata-file', req.metadataFile, '--progress', 'rawjson')
  return { command: 'buildctl', args, env }
}
