// Servers that send without end or drip, on loopback: what a hostile registry or rack does.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export const MiB = 1024 * 1024

/** A loopback server; `close` ends it and its connections. */
export async function listenHostile(
  handler: (req: IncomingMessage, res: ServerResponse) => void
): Promise<{ host: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(handler)
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise(r => server.close(r))
  }
  return { host, server, close }
}

/**
 * Sends `total` bytes after `head`, as fast as the client reads them, without a Content-Length:
 * endless as far as any sane bound goes, yet one a client without a bound would finish (so that a
 * test fails rather than hangs on such a client). Counts what was sent.
 */
export function flood(
  res: ServerResponse,
  total: number,
  head = '{"schemaVersion":2,"x":"'
): { sent: number } {
  const counter = { sent: 0 }
  const chunk = Buffer.alloc(256 * 1024, 'a')
  res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' })
  res.write(head)
  const pump = (): void => {
    while (counter.sent < total) {
      counter.sent += chunk.length
      if (!res.write(chunk)) {
        res.once('drain', pump)
        return
      }
    }
    res.end('"}')
  }
  res.on('close', () => res.removeAllListeners('drain'))
  pump()
  return counter
}

/** Writes a byte every 50 ms, for ever (until the client goes). */
export function drip(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' })
  const timer = setInterval(() => res.write(' '), 50)
  res.on('close', () => clearInterval(timer))
}
