// Image-service copies and login checks through our registry client (src/core/registry).
import { DOCKER_HUB_AUTH_KEY, type RegistryLogin } from '../docker-config.js'
import type { Logger } from '../log.js'
import { RegistryClient } from '../registry/client.js'
import { copyImage } from '../registry/copy.js'
import { DOCKER_HUB, parseReference } from '../registry/reference.js'
import type { CopyImage } from './image-copies.js'

export interface RegistryTools {
  /** The client behind the tools, logged in with the run's credentials. */
  client: RegistryClient
  copyImage: CopyImage
  checkLogin: (login: RegistryLogin) => Promise<void>
}

export function registryTools(
  logins: RegistryLogin[],
  dockerHubRegistry: string,
  logger: Logger,
  signal?: AbortSignal
): RegistryTools {
  const find = (host: string): RegistryLogin | undefined =>
    logins.find(l => l.host === host) ??
    (host === DOCKER_HUB || host === 'registry-1.docker.io'
      ? logins.find(l => l.host === DOCKER_HUB_AUTH_KEY)
      : undefined)
  const client = new RegistryClient({ credentials: find, dockerHubRegistry, logger, signal })
  return {
    client,
    copyImage: async (from, to, _signal, platforms) => {
      const r = await copyImage(client, parseReference(from), parseReference(to), {
        logger,
        platforms
      })
      return { digest: r.digest, platforms: r.platforms, missing: r.missing }
    },
    checkLogin: login =>
      client.checkLogin(
        // Docker Hub's own login goes to Docker Hub itself, never to a mirror.
        login.host === DOCKER_HUB_AUTH_KEY ? 'registry-1.docker.io' : login.host,
        login
      )
  }
}
