// The registry client's HTTP (core/http.ts, not fetch): redirects of reads followed with the
// login kept to its origin, and connections kept alive between requests.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RegistryClient, sha256 } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:1', size: 1 },
    layers: []
  })
)
const LOGIN = { username: 'u', password: 'p4ss-word' }
const BASIC = `Basic ${Buffer.from('u:p4ss-word').toString('base64')}`

interface Seen {
  path: string
  authorization?: string
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void
): Promise<{ server: Server; host: string; seen: Seen[]; connections: () => number }> {
  const seen: Seen[] = []
  let connections = 0
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization })
    handler(req, res)
  })
  server.on('connection', () => connections++)
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return { server, host: `127.0.0.1:${port}`, seen, connections: () => connections }
}

const manifest = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' })
  res.end(MANIFEST)
}

describe('RegistryClient over node:http', () => {
  let storage: Awaited<ReturnType<typeof listen>>
  let registry: Awaited<ReturnType<typeof listen>>

  beforeAll(async () => {
    // Object storage of another origin, where the registry sends reads.
    storage = await listen((_req, res) => manifest(res))
    registry = await listen((req, res) => {
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' })
        res.end()
      } else if (req.url === '/v2/app/manifests/elsewhere') {
        res.writeHead(307, { location: `http://${storage.host}/bucket/m?sig=1` })
        res.end()
      } else if (req.url === '/v2/app/manifests/moved') {
        res.writeHead(301, { location: '/v2/app/manifests/real' })
        res.end()
      } else manifest(res)
    })
  })
  afterAll(async () => {
    for (const s of [storage, registry]) {
      s.server.closeAllConnections()
      await new Promise(r => s.server.close(r))
    }
  })

  const client = (): RegistryClient =>
    new RegistryClient({ credentials: h => (h === registry.host ? LOGIN : undefined) })

  it("follows a redirect to another origin without the registry's login", async () => {
    const m = await client().getManifest(parseReference(`${registry.host}/app:elsewhere`))
    expect(m.digest).toBe(sha256(MANIFEST))
    expect(storage.seen.at(-1)).toEqual({ path: '/bucket/m?sig=1', authorization: undefined })
  })

  it('keeps the login on a redirect within the registry', async () => {
    const before = registry.seen.length
    await client().getManifest(parseReference(`${registry.host}/app:moved`))
    expect(registry.seen.slice(before).map(s => [s.path, s.authorization])).toEqual([
      ['/v2/app/manifests/moved', undefined],
      ['/v2/app/manifests/moved', BASIC],
      ['/v2/app/manifests/real', BASIC]
    ])
  })

  it('keeps one connection alive for requests one after another', async () => {
    const c = client()
    const [connections, requests] = [registry.connections(), registry.seen.length]
    for (let i = 0; i < 5; i++) await c.findManifest(parseReference(`${registry.host}/app:t${i}`))
    expect(registry.seen.length - requests).toBeGreaterThanOrEqual(5)
    // one at most: the earlier tests' connection may still be the one kept
    expect(registry.connections() - connections).toBeLessThanOrEqual(1)
  })
})
