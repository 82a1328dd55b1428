// Servers that send without end, or drip: every answer read whole stops at the bound of its kind
// (core/http.ts BODY_LIMITS) or its deadline, with one line naming the host and what was read.
import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RackClient } from '../../src/core/rack/client.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { getImageConfig } from '../../src/core/registry/image-config.js'
import { parseReference } from '../../src/core/registry/reference.js'
import { drip, flood, MiB } from '../helpers/hostile-server.js'

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise(r => s.close(r))
  }
})

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void
): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('registry answers are bounded', () => {
  it('stops an endless manifest at 4 MiB, in one line naming the host and the manifest', async () => {
    const sent: { sent: number }[] = []
    const host = await listen((req, res) => {
      if (req.url === '/v2/') res.end('{}')
      else sent.push(flood(res, 256 * MiB))
    })
    const client = new RegistryClient({ retries: 0 })
    const e = await client.getManifest(parseReference(`${host}/app:latest`)).catch(x => x as Error)
    expect((e as Error).message).toBe(
      `registry ${host}: manifest of ${host}/app:latest: answer larger than 4 MiB`
    )
    // read no further than the bound (and what the sockets buffer)
    expect(sent[0]!.sent).toBeLessThan(32 * MiB)
  })

  it('refuses a manifest whose Content-Length is past the bound without reading it', async () => {
    const host = await listen((_req, res) => {
      res.writeHead(200, { 'content-length': String(5 * MiB) })
      res.write('{')
    })
    const client = new RegistryClient({ retries: 0 })
    await expect(client.getManifest(parseReference(`${host}/app:1`))).rejects.toThrow(
      `registry ${host}: manifest of ${host}/app:1: answer larger than 4 MiB`
    )
  })

  it('takes the size a HEAD announces for what it is: the size of a blob, not of the answer', async () => {
    const host = await listen((req, res) => {
      res.writeHead(200, { 'content-length': String(5 * 1024 * MiB) })
      res.end()
    })
    const client = new RegistryClient({ retries: 0 })
    const repo = parseReference(`${host}/app:1`)
    expect(await client.headBlob(repo, 'sha256:big')).toBe(5 * 1024 * MiB)
  })

  it('stops an endless token answer at 1 MiB, naming the token server', async () => {
    const realm = await listen((_req, res) => void flood(res, 256 * MiB, '{"token":"'))
    const host = await listen((_req, res) => {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${realm}/token",service="r"`
      })
      res.end()
    })
    const client = new RegistryClient({ retries: 0 })
    await expect(client.getManifest(parseReference(`${host}/app:1`))).rejects.toThrow(
      `registry ${realm}: token: answer larger than 1 MiB`
    )
  })

  it('stops an endless config blob at 4 MiB, naming the blob', async () => {
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: 'sha256:c',
        size: 1
      },
      layers: []
    })
    const host = await listen((req, res) => {
      if (req.url?.includes('/manifests/')) {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' })
        res.end(manifest)
      } else if (req.url?.includes('/blobs/')) flood(res, 256 * MiB)
      else res.end('{}')
    })
    const client = new RegistryClient({ retries: 0 })
    await expect(getImageConfig(client, parseReference(`${host}/app:1`))).rejects.toThrow(
      `registry ${host}: blob sha256:c: answer larger than 4 MiB`
    )
  })

  it('gives a manifest that drips a deadline of the whole, not only of each wait', async () => {
    const host = await listen((req, res) => (req.url === '/v2/' ? res.end('{}') : drip(res)))
    // each wait is short (50 ms) against the idle bound: only the whole bound stops it
    const client = new RegistryClient({ retries: 0, timeoutMs: 5_000, deadlineMs: 500 })
    await expect(client.getManifest(parseReference(`${host}/app:1`))).rejects.toThrow(
      `registry ${host}: manifest of ${host}/app:1: answer not complete within 500 ms`
    )
  })
})

it('names what it waited for when a registry never answers', async () => {
  const host = await listen((req, res) => (req.url === '/v2/' ? res.end('{}') : undefined))
  const client = new RegistryClient({ retries: 0, timeoutMs: 300 })
  await expect(client.getManifest(parseReference(`${host}/app:1`))).rejects.toThrow(
    `registry ${host}: manifest of ${host}/app:1: no answer within 300 ms (gave up after 1 attempts)`
  )
})

describe('rack answers are bounded', () => {
  it('stops an endless JSON answer at 32 MiB, in one line naming the rack and the call', async () => {
    const sent: { sent: number }[] = []
    const host = await listen((_req, res) => void sent.push(flood(res, 256 * MiB, '{"name":"')))
    const rack = new RackClient({ rackUrl: `http://convox:pw@${host}`, retryDelayMs: 5 })
    const e = await rack.systemGet().catch(x => x as Error)
    expect((e as Error).message).toBe(`rack ${host}: GET /system: answer larger than 32 MiB`)
    // not asked again: the same answer would come
    expect(sent).toHaveLength(1)
  })

  it('bounds a rack answer that drips by the call bound', async () => {
    const host = await listen((_req, res) => drip(res))
    const rack = new RackClient({ rackUrl: `http://convox:pw@${host}`, timeoutMs: 500 })
    await expect(rack.systemGet()).rejects.toThrow(
      `rack ${host}: GET /system: no answer within 500 ms`
    )
  })
})
