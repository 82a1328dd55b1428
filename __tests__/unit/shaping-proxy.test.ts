// The benchmark's shaping proxy (scripts/bench/shaping-proxy.ts): its link arithmetic, and that
// what crosses it arrives whole, in order, both ways, half closes included. No timing asserted.
import { afterEach, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import {
  schedule,
  startShapingProxy,
  type ShapingProxy
} from '../../scripts/bench/shaping-proxy.js'

const LINK = { rttMs: 30, mbit: 200 }

describe('schedule', () => {
  it('takes a chunk over the rate, then half the round trip', () => {
    // 25,000 bytes = 200,000 bits = 1 ms at 200 Mbit/s.
    expect(schedule(0, 100, 25_000, LINK)).toEqual({ freeAt: 101, deliverAt: 116 })
  })

  it('queues a chunk behind the ones still on the wire', () => {
    const first = schedule(0, 100, 250_000, LINK)
    expect(first.freeAt).toBe(110)
    expect(schedule(first.freeAt, 105, 25_000, LINK)).toEqual({ freeAt: 111, deliverAt: 126 })
  })

  it('does not bank the idle time of the link', () => {
    expect(schedule(50, 100, 0, LINK)).toEqual({ freeAt: 100, deliverAt: 115 })
  })
})

describe('startShapingProxy', () => {
  let proxy: ShapingProxy | undefined
  let server: net.Server | undefined
  afterEach(async () => {
    await proxy?.close()
    await new Promise(r => (server ? server.close(r) : r(undefined)))
  })

  it('carries bytes whole and in order each way, and a half close after them', async () => {
    // The server answers the digest of all it got once the client ends its side.
    server = net.createServer(s => {
      const h = createHash('sha256')
      s.on('data', c => h.update(c))
      s.on('end', () => s.end(h.digest('hex') + randomPayload.toString('hex')))
    })
    const randomPayload = randomBytes(3 * 1024 * 1024)
    await new Promise<void>(r => server!.listen(0, '127.0.0.1', r))
    proxy = await startShapingProxy([`127.0.0.1:${(server.address() as net.AddressInfo).port}`], {
      rttMs: 2,
      mbit: 2000
    })
    const [host, port] = proxy.hosts[0]!.split(':')
    const sent = randomBytes(5 * 1024 * 1024)
    const client = net.connect({ host, port: Number(port) })
    const got: Buffer[] = []
    client.on('data', c => got.push(c))
    const ended = new Promise(r => client.on('end', r))
    for (let i = 0; i < sent.length; i += 100_000) client.write(sent.subarray(i, i + 100_000))
    client.end()
    await ended
    const answer = Buffer.concat(got).toString()
    expect(answer).toBe(
      createHash('sha256').update(sent).digest('hex') + randomPayload.toString('hex')
    )
  })
})
