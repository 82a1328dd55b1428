// core/http.ts against a local server: a cancelled run sends nothing, and an upload the server
// answers early is not read on, nor its connection used again.
import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Readable } from 'node:stream'
import { exchange } from '../../src/core/http.js'

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise(r => (server ? server.close(r) : r(undefined)))
  server = undefined
})

async function listen(
  handler: Parameters<typeof createServer>[1]
): Promise<{ url: URL; requests: () => number; closed: Promise<void> }> {
  let requests = 0
  let closed!: () => void
  const done = new Promise<void>(r => (closed = r))
  server = createServer((req, res) => {
    requests++
    handler!(req, res)
  })
  server.on('connection', (s: Socket) => s.on('close', () => closed()))
  await new Promise<void>(r => server!.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return { url: new URL(`http://127.0.0.1:${port}/x`), requests: () => requests, closed: done }
}

describe('exchange', () => {
  it('rejects at once with the reason on a cancelled run, and sends nothing', async () => {
    const s = await listen((_req, res) => res.end('ok'))
    const controller = new AbortController()
    controller.abort(new Error('cancelled by the test'))
    for (const keepAlive of [false, true]) {
      await expect(
        exchange({
          method: 'GET',
          url: s.url,
          headers: {},
          timeoutMs: 1000,
          maxBytes: 1024,
          signal: controller.signal,
          keepAlive
        })
      ).rejects.toThrow('cancelled by the test')
    }
    // a stray error of a request destroyed unheard would surface by now
    await new Promise(r => setTimeout(r, 50))
    expect(s.requests()).toBe(0)
  })

  it('stops reading an upload the server answers early, and closes that connection', async () => {
    const s = await listen((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' })
      res.end()
    })
    let read = 0
    const chunks = 2000
    const upload = new Readable({
      read() {
        this.push(read++ < chunks ? Buffer.alloc(64 * 1024) : null)
      }
    })
    const answer = await exchange({
      method: 'PUT',
      url: s.url,
      headers: { 'content-length': String(chunks * 64 * 1024) },
      body: () => upload,
      timeoutMs: 5000,
      idle: true,
      maxBytes: 1024,
      keepAlive: true
    })
    expect(answer.status).toBe(401)
    await s.closed
    await new Promise(r => setTimeout(r, 100))
    expect(upload.destroyed).toBe(true)
    expect(read).toBeLessThan(chunks / 2)
  })
})
