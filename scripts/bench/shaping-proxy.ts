// A TCP proxy on loopback that shapes what crosses it like a runner's network link: a one-way
// delay of half the round trip each way, and a rate per direction shared by every connection
// through it (one link, however many registries sit behind it). A new connection also waits one
// round trip before its first byte goes on, as a TCP handshake over the link would. Used by
// `npm run bench:real` in front of the push registry and the Docker Hub stand-in.
import net from 'node:net'

export interface LinkShape {
  /** Round trip added, ms (half each way). */
  rttMs: number
  /** Rate of each direction, Mbit/s. */
  mbit: number
}

/**
 * When a chunk of `bytes` entering a link at `now` (ms) has crossed it: it goes on the wire once
 * the chunks before it have (`freeAt`), takes its size over the rate, then half the round trip.
 */
export function schedule(
  freeAt: number,
  now: number,
  bytes: number,
  shape: LinkShape
): { freeAt: number; deliverAt: number } {
  const start = Math.max(freeAt, now)
  const end = start + (bytes * 8) / (shape.mbit * 1000)
  return { freeAt: end, deliverAt: end + shape.rttMs / 2 }
}

interface Pending {
  at: number
  run: () => void
}

/** One direction of the link: a FIFO drained by one timer, so chunks keep their order. */
class Link {
  /** Bytes sent over it so far. */
  bytes = 0
  private freeAt = 0
  private readonly queue: Pending[] = []
  private head = 0
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly shape: LinkShape) {}

  send(bytes: number, run: () => void): void {
    const s = schedule(this.freeAt, performance.now(), bytes, this.shape)
    this.freeAt = s.freeAt
    this.bytes += bytes
    this.queue.push({ at: s.deliverAt, run })
    if (!this.timer) this.arm()
  }

  private arm(): void {
    const next = this.queue[this.head]
    if (!next) {
      this.queue.length = 0
      this.head = 0
      this.timer = undefined
      return
    }
    this.timer = setTimeout(() => this.drain(), Math.max(0, next.at - performance.now()))
  }

  private drain(): void {
    const now = performance.now()
    while (this.head < this.queue.length && this.queue[this.head]!.at <= now + 0.5) {
      this.queue[this.head++]!.run()
    }
    if (this.head > 1024) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    this.arm()
  }

  close(): void {
    clearTimeout(this.timer)
    this.queue.length = 0
    this.head = 0
    this.timer = undefined
  }
}

/** Bytes one connection may have on the link or in the receiver's buffer before its sender pauses. */
const HIGH_WATER = 4 * 1024 * 1024

/** Pipes `from` into `to` over `link`, pausing `from` while too much of it is in flight. */
function pipe(from: net.Socket, to: net.Socket, link: Link): void {
  let inFlight = 0
  const resumeIfRoom = (): void => {
    if (from.isPaused() && inFlight + to.writableLength < HIGH_WATER) from.resume()
  }
  from.on('data', (chunk: Buffer) => {
    inFlight += chunk.length
    link.send(chunk.length, () => {
      inFlight -= chunk.length
      if (!to.destroyed) to.write(chunk)
      resumeIfRoom()
    })
    if (inFlight + to.writableLength >= HIGH_WATER) from.pause()
  })
  to.on('drain', resumeIfRoom)
  // A half close crosses the link after the data before it.
  from.on('end', () => link.send(0, () => to.end()))
}

export interface ShapingProxy {
  /** host:port of each listener, in the order of the targets. */
  hosts: string[]
  /** Bytes sent so far: up (to the servers) and down. */
  moved(): { up: number; down: number }
  close(): Promise<void>
}

/** Listens on a loopback port per target (`host:port`), all sharing one shaped link. */
export async function startShapingProxy(
  targets: string[],
  shape: LinkShape
): Promise<ShapingProxy> {
  const up = new Link(shape)
  const down = new Link(shape)
  const sockets = new Set<net.Socket>()
  const track = (s: net.Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  }
  const servers = targets.map(target => {
    const [host, port] = splitHost(target)
    // Half open both ways: a client's end goes on after its data, not at once.
    return net.createServer({ allowHalfOpen: true }, client => {
      track(client)
      client.setNoDelay(true)
      client.pause()
      const closeBoth = (): void => {
        client.destroy()
        upstream?.destroy()
      }
      let upstream: net.Socket | undefined
      client.on('error', closeBoth)
      setTimeout(() => {
        if (client.destroyed) return
        upstream = net.connect({ host, port, noDelay: true, allowHalfOpen: true })
        track(upstream)
        upstream.on('error', closeBoth)
        pipe(client, upstream, up)
        pipe(upstream, client, down)
        client.resume()
      }, shape.rttMs)
    })
  })
  const hosts = await Promise.all(
    servers.map(
      s =>
        new Promise<string>((resolve, reject) => {
          s.once('error', reject)
          s.listen(0, '127.0.0.1', () =>
            resolve(`127.0.0.1:${(s.address() as net.AddressInfo).port}`)
          )
        })
    )
  )
  return {
    hosts,
    moved: () => ({ up: up.bytes, down: down.bytes }),
    async close() {
      for (const s of sockets) s.destroy()
      up.close()
      down.close()
      await Promise.all(servers.map(s => new Promise<void>(resolve => s.close(() => resolve()))))
    }
  }
}

function splitHost(target: string): [string, number] {
  const i = target.lastIndexOf(':')
  return [target.slice(0, i), Number(target.slice(i + 1))]
}
