// core/http.ts against a local server: a cancelled run sends nothing, and an upload the server
// answers early is not read on, nor its connection used again.
import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
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

  describe('an upload sent with Expect: 100-continue', () => {
    /** A server that decides on the headers: `go` answers 100 first, else not; counts body bytes. */
    async function expecting(go: (n: number) => 'continue' | 'refuse' | 'ignore') {
      let bytes = 0
      let n = 0
      server = createServer()
      const answer = (req: IncomingMessage, res: ServerResponse): void => {
        req.on('data', (c: Buffer) => (bytes += c.length))
        req.on('end', () => res.end(String(bytes)))
      }
      server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
        const what = go(n++)
        if (what === 'refuse') {
          res.writeHead(401, { connection: 'close' })
          res.end()
          return
        }
        if (what === 'continue') res.writeContinue()
        answer(req, res)
      })
      // what reached the server at all, read or not
      let raw = 0
      server.on('connection', (c: Socket) => c.on('data', (d: Buffer) => (raw += d.length)))
      await new Promise<void>(r => server!.listen(0, '127.0.0.1', r))
      const { port } = server.address() as AddressInfo
      return { url: new URL(`http://127.0.0.1:${port}/x`), bytes: () => bytes, raw: () => raw }
    }
    const put = (url: URL) =>
      exchange({
        method: 'POST',
        url,
        headers: { Expect: '100-continue' },
        body: () => Readable.from([Buffer.alloc(4 << 20, 1)]),
        timeoutMs: 10_000,
        maxBytes: 1024
      })

    it('sends none of the body to a server that refuses it', async () => {
      const s = await expecting(() => 'refuse')
      const answer = await put(s.url)
      expect(answer.status).toBe(401)
      await new Promise(r => setTimeout(r, 1500)) // past the wait for a go-ahead
      expect(s.bytes()).toBe(0)
      expect(s.raw()).toBeLessThan(4096) // the headers alone
    })

    it('sends it after the go-ahead, and after a while to a server that ignores Expect', async () => {
      for (const how of ['continue', 'ignore'] as const) {
        const s = await expecting(() => how)
        const answer = await put(s.url)
        expect([answer.status, answer.body.toString()]).toEqual([200, String(4 << 20)])
        server?.closeAllConnections()
        await new Promise(r => server!.close(r))
      }
      server = undefined
    })
  })
})
