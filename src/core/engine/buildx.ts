import type { BuilderNode, Engine, BuildRequest, EngineCommand } from './types.js'
import { buildArgValue, buildCheckArg, outputFlag, secretFlag } from './types.js'

/**
 * buildx on `builder`. Its progress names each step's platform, not the node: with several nodes
 * the description lists them, each with the platform it builds natively.
 */
export function buildxEngine(builder: string, driver: string, nodes: BuilderNode[] = []): Engine {
  const platforms = [...new Set(nodes.map(n => n.platform))]
  const list = nodes.map(n => `${n.name} ${n.platform}`).join(', ')
  return {
    name: 'buildx',
    description: `buildx (builder ${builder || 'current'}, driver ${driver}${nodes.length > 1 ? `, nodes ${list}` : ''})`,
    driver,
    ...(platforms.length > 0 ? { platforms } : {}),
    command: req => buildxCommand(req, builder)
  }
}

/** `docker buildx build ...` for one build. Secret values travel in env, never in args. */
export function buildxCommand(req: BuildRequest, builder: string): EngineCommand {
  const { spec } = req
  const args = ['buildx', 'build']
  if (builder) args.push('--builder', builder)
  args.push('--file', spec.dockerfilePath)
  const env: Record<string, string> = {}
  // `--build-arg NAME` without a value: buildx takes it from its environment.
  for (const [name, value] of Object.entries(spec.argValues)) {
    args.push('--build-arg', buildArgValue(name, value, req.secretArgs, env))
  }
  const check = buildCheckArg(req)
  if (check) args.push('--build-arg', check)
  if (spec.target) args.push('--target', spec.target)
  if (req.platforms.length > 0) args.push('--platform', req.platforms.join(','))
  for (const s of req.secrets) args.push('--secret', secretFlag(s.id, env, s.value))
  if (req.noCache) args.push('--no-cache')
  for (const c of req.cache.imports) args.push('--cache-from', c)
  for (const c of req.cache.exports) args.push('--cache-to', c)
  // One manifest like the rack's (no attestation index).
  args.push('--provenance=false')
  const output = outputFlag(req)
  if (output) args.push('--output', output)
  else for (const t of req.tags) args.push('--tag', t)
  args.push('--metadata-file', req.metadataFile, '--progress', 'rawjson', spec.contextPath)
  return { command: 'docker', args, env }
}
