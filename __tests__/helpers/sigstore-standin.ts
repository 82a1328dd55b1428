// Sigstore on loopback for a child process that signs against fixed hosts, as @actions/attest
// does (`https://fulcio.<host>` and `https://timestamp.<host>` of GITHUB_SERVER_URL for GitHub's
// instance: its lib/endpoints.js): @sigstore/mock's Fulcio and timestamp authority handlers behind
// a TLS server whose certificate a test CA signs (the child trusts it by NODE_EXTRA_CA_CERTS), and
// a CONNECT proxy (the child's HTTPS_PROXY: @sigstore/sign fetches with make-fetch-happen, whose
// agent honours it) that routes those hosts there and refuses every other. Plus the job's OIDC
// token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN), and the trust material (@sigstore/verify's)
// that verifies what was signed.
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, type KeyPairKeyObjectResult } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import path from 'node:path'
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTSA,
  tsaHandler,
  type HandlerFn
} from '@sigstore/mock'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify'

export interface SigstoreStandIn {
  /** The child's environment: proxy, CA, OIDC endpoint; no proxy for loopback. */
  env: Record<string, string>
  /** Hosts the child asked the proxy for (CONNECT), in order. */
  connects: string[]
  /** What the Fulcio and timestamp stand-ins were sent, whole. */
  requests: { host: string; path: string; headers: http.IncomingHttpHeaders; body: string }[]
  /** Requests the OIDC endpoint answered: their Authorization headers and audiences. */
  tokenRequests: { authorization: string; audience: string }[]
  /** The claims of the token it gives, and the token. */
  claims: Record<string, string>
  token: string
  /** What verifies a bundle the mock Fulcio's certificate and its timestamp authority signed. */
  trust: TrustMaterial
  close(): Promise<void>
}

const bytes = (b: ArrayBufferView | ArrayBuffer): Buffer =>
  b instanceof ArrayBuffer ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength)

const b64url = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')

/** A CA and a server certificate for `hosts`, by openssl, in `dir`. */
function tlsFiles(dir: string, hosts: string[]): { ca: string; key: string; cert: string } {
  const f = (n: string): string => path.join(dir, n)
  const ssl = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' })
  ssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')])
  ssl([
    'req',
    '-x509',
    '-new',
    '-key',
    f('ca.key'),
    '-subj',
    '/CN=test CA',
    '-days',
    '2',
    '-out',
    f('ca.pem')
  ])
  ssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('server.key')])
  ssl(['req', '-new', '-key', f('server.key'), '-subj', `/CN=${hosts[0]}`, '-out', f('server.csr')])
  writeFileSync(f('san.ext'), `subjectAltName=${hosts.map(h => `DNS:${h}`).join(',')}\n`)
  ssl([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('san.ext'),
    '-out',
    f('server.pem')
  ])
  return { ca: f('ca.pem'), key: f('server.key'), cert: f('server.pem') }
}

const listen = async (server: net.Server): Promise<number> => {
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  return (server.address() as AddressInfo).port
}

/** @sigstore/mock's Fulcio (with its CT log) and timestamp authority, by path; their trust material. */
export interface MockSigstore {
  /** The handler of a POST by its path (`/api/v2/signingCert`, `/api/v1/timestamp`). */
  routes: Map<string, HandlerFn>
  trust: TrustMaterial
}

export async function mockSigstore(): Promise<MockSigstore> {
  const key = (): KeyPairKeyObjectResult => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  // The mock's time for what it signs: a whole second, or its timestamps would carry milliseconds
  // without their trailing zeros (asn1js writes `.5Z`), which @sigstore/core's parser refuses
  // (`.\d{3}` only); the next but one, so that its certificates, made at the real time, are valid
  // at every timestamp.
  const clock = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000)
  const ctlog = await initializeCTLog(key(), clock)
  const ca = await initializeCA(key(), ctlog, clock)
  const tsa = await initializeTSA(key(), clock)
  const routes = new Map<string, HandlerFn>()
  for (const handler of [fulcioHandler(ca), tsaHandler(tsa)]) routes.set(handler.path, handler.fn)
  const validFor = { start: new Date(Date.now() - 3600_000).toISOString() }
  const raw = (b: ArrayBufferView | ArrayBuffer): string => bytes(b).toString('base64')
  const trust = toTrustMaterial(
    TrustedRoot.fromJSON({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [],
      certificateAuthorities: [
        {
          subject: { organization: 'mock', commonName: 'fulcio' },
          uri: 'https://fulcio.mock',
          certChain: { certificates: [{ rawBytes: raw(ca.rootCertificate) }] },
          validFor
        }
      ],
      ctlogs: [
        {
          baseUrl: 'https://ctfe.mock',
          hashAlgorithm: 'SHA2_256',
          publicKey: {
            rawBytes: raw(ctlog.publicKey),
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            validFor
          },
          logId: { keyId: raw(ctlog.logID) }
        }
      ],
      timestampAuthorities: [
        {
          subject: { organization: 'mock', commonName: 'tsa' },
          uri: 'https://timestamp.mock',
          certChain: {
            certificates: [
              { rawBytes: raw(tsa.intCertificate) },
              { rawBytes: raw(tsa.rootCertificate) }
            ]
          },
          validFor
        }
      ]
    })
  )

  return { routes, trust }
}

/** Answers a POST with the route of its path; counts what it was sent in `requests`. */
function serveRoutes(
  routes: Map<string, HandlerFn>,
  requests: SigstoreStandIn['requests']
): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const host = (req.headers.host ?? '').replace(/:443$/, '')
      const body = Buffer.concat(chunks).toString('latin1')
      requests.push({ host, path: req.url ?? '', headers: req.headers, body })
      const fn = routes.get(req.url ?? '')
      if (!fn || req.method !== 'POST') return void res.writeHead(404).end()
      void fn(body).then(r => {
        res.writeHead(r.statusCode, { 'content-type': r.contentType ?? 'application/json' })
        res.end(typeof r.response === 'string' ? r.response : bytes(r.response))
      })
    })
  }
}

/** An unsigned JWT: the mock Fulcio reads its claims without checking a signature. */
export function unsignedJwt(claims: Record<string, string>): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, aud: 'sigstore' })}.`
}

/** The mock services on loopback over plain http, for a signer in this process. */
export async function serveSigstore(): Promise<{
  url: string
  trust: TrustMaterial
  close(): Promise<void>
}> {
  const { routes, trust } = await mockSigstore()
  const server = http.createServer(serveRoutes(routes, []))
  const port = await listen(server)
  return {
    url: `http://127.0.0.1:${port}`,
    trust,
    close: async () => {
      server.closeAllConnections()
      await new Promise(r => server.close(r))
    }
  }
}

/** Stand-ins for `https://fulcio.<host>` and `https://timestamp.<host>`, and the OIDC endpoint. */
export async function startSigstore(
  host: string,
  dir: string,
  claims: Record<string, string>
): Promise<SigstoreStandIn> {
  const fulcioHost = `fulcio.${host}`
  const tsaHost = `timestamp.${host}`
  const { routes, trust } = await mockSigstore()
  const files = tlsFiles(dir, [fulcioHost, tsaHost])
  const requests: SigstoreStandIn['requests'] = []
  const tls = https.createServer(
    { key: readFileSync(files.key), cert: readFileSync(files.cert) },
    serveRoutes(routes, requests)
  )
  const tlsPort = await listen(tls)

  const connects: string[] = []
  const proxy = http.createServer((_req, res) => res.writeHead(403).end())
  proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    connects.push(req.url ?? '')
    if (![`${fulcioHost}:443`, `${tsaHost}:443`].includes(req.url ?? '')) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n')
      return
    }
    const upstream = net.connect(tlsPort, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(socket).pipe(upstream)
    })
    upstream.on('error', () => socket.destroy())
    socket.on('error', () => upstream.destroy())
  })
  const proxyPort = await listen(proxy)

  const token = unsignedJwt(claims)
  const tokenRequests: SigstoreStandIn['tokenRequests'] = []
  const oidc = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    tokenRequests.push({
      authorization: req.headers.authorization ?? '',
      audience: url.searchParams.get('audience') ?? ''
    })
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: token }))
  })
  const oidcPort = await listen(oidc)

  return {
    env: {
      HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`,
      NO_PROXY: '127.0.0.1,localhost',
      NODE_EXTRA_CA_CERTS: files.ca,
      ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${oidcPort}/token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: `oidc-request-${Math.random().toString(36).slice(2)}`
    },
    connects,
    requests,
    tokenRequests,
    claims,
    token,
    trust,
    close: async () => {
      for (const s of [tls, proxy, oidc]) {
        s.closeAllConnections()
        await new Promise(r => s.close(r))
      }
    }
  }
}
