// The `build-args` input: one per line, `NAME` (a managed arg, else from the environment) or
// `NAME=VALUE` (everything after the first `=`, verbatim). As on the rack, a managed arg is
// passed only when named, and a build gets only the args its Dockerfile declares.
import { UserError, type Problem } from './errors.js'
import type { Logger } from './log.js'
import type { LoginSettings } from './docker-config.js'

export const MANAGED_ARGS = [
  'BUILD_APP',
  'BUILD_AUTH',
  'BUILD_DEVELOPMENT',
  'BUILD_GENERATION',
  'BUILD_GIT_SHA',
  'BUILD_ID',
  'BUILD_MANIFEST',
  'BUILD_RACK'
] as const
export type ManagedArg = (typeof MANAGED_ARGS)[number]

export const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export interface BuildArg {
  name: string
  value: string
  /** 1-based line of the `build-args` input it came from. */
  line: number
  managed: boolean
  /** Never logged: masked before use (BUILD_AUTH). */
  secret: boolean
}

export interface BuildArgsContext {
  env: NodeJS.ProcessEnv
  /** Values of the managed args; computed lazily so BUILD_AUTH is built only when named. */
  managed: (name: ManagedArg) => string
  logger: Logger
}

export function isManagedArg(name: string): name is ManagedArg {
  return (MANAGED_ARGS as readonly string[]).includes(name)
}

/** Parses the lines; all bad lines are reported at once. Later lines override earlier ones. */
export function parseBuildArgs(lines: string[], context: BuildArgsContext): BuildArg[] {
  const { env, managed, logger } = context
  const problems: Problem[] = []
  const byName = new Map<string, BuildArg>()
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === '') return
    const eq = raw.indexOf('=')
    const name = eq < 0 ? raw.trim() : raw.slice(0, eq)
    if (!ARG_NAME.test(name)) {
      problems.push({
        input: 'build-args',
        line,
        message: `"${eq < 0 ? name : name + '='}" is not a valid build arg name (letters, digits and _, not starting with a digit); each line is NAME or NAME=VALUE`
      })
      return
    }
    let arg: BuildArg
    if (eq >= 0) {
      const isManaged = isManagedArg(name)
      if (isManaged) {
        logger.warning(`${name}=... overrides the managed value of ${name}`, {
          input: 'build-args',
          line
        })
      }
      arg = { name, value: raw.slice(eq + 1), line, managed: false, secret: name === 'BUILD_AUTH' }
    } else if (isManagedArg(name)) {
      arg = { name, value: managed(name), line, managed: true, secret: name === 'BUILD_AUTH' }
    } else if (Object.prototype.hasOwnProperty.call(env, name) && env[name] !== undefined) {
      arg = { name, value: String(env[name]), line, managed: false, secret: false }
    } else {
      problems.push({
        input: 'build-args',
        line,
        message: `${name} is not a managed build arg (${MANAGED_ARGS.join(', ')}) and is not set in the environment; write ${name}=VALUE to give it a value`
      })
      return
    }
    if (arg.secret && arg.value !== '') logger.mask(arg.value)
    const prev = byName.get(name)
    if (prev) {
      logger.warning(`${name} is given again (first on line ${prev.line}); the last one wins`, {
        input: 'build-args',
        line
      })
      byName.delete(name)
    }
    byName.set(name, arg)
  })
  if (problems.length > 0) throw new UserError(problems)
  return [...byName.values()]
}

/**
 * BUILD_AUTH as the rack makes it (provider/k8s/build.go buildAuth): a JSON object from registry
 * (host or repository) to `{Username, Password}`, with the push registry's and Docker Hub's
 * credentials where given. A secret: callers mask it.
 */
export function buildAuth(settings: LoginSettings): string {
  const auth: Record<string, { Username: string; Password: string }> = {}
  if (settings.dockerHubUsername && settings.dockerHubPassword) {
    auth[settings.dockerHubRegistry || 'docker.io'] = {
      Username: settings.dockerHubUsername,
      Password: settings.dockerHubPassword
    }
  }
  if (settings.registry && settings.registryUsername && settings.registryPassword) {
    auth[settings.registry] = {
      Username: settings.registryUsername,
      Password: settings.registryPassword
    }
  }
  return JSON.stringify(auth)
}
