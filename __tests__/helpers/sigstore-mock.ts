// A Sigstore instance on loopback for tests: @sigstore/mock's Fulcio (with its CT log), Rekor and
// timestamp authority, each served by a plain node:http server; its trusted_root.json and the
// PEMs cosign takes (SIGSTORE_ROOT_FILE, SIGSTORE_REKOR_PUBLIC_KEY,
// SIGSTORE_CT_LOG_PUBLIC_KEY_FILE); OIDC tokens minted with GitHub-like claims (the mock reads
// claims without checking the token's signature).
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
  type HandlerFn
} from '@sigstore/mock'
import { HashAlgorithm, PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs'
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'

export interface SigstoreMock {
  fulcioUrl: string
  rekorUrl: string
  tsaUrl: string
  /** trusted_root.json (sigstore's TrustedRoot) naming the mock's keys. */
  trustedRoot: string
  /** PEMs: Fulcio's root, Rekor's and the CT log's public keys, the TSA's chain. */
  fulcioRootPem: string
  rekorPublicKeyPem: string
  ctLogPublicKeyPem: string
  tsaChainPem: string
  /** Requests each service answered (Fulcio: certificates issued). */
  calls: { fulcio: number; rekor: number; tsa: number }
  close(): Promise<void>
}

const pem = (label: string, der: Uint8Array): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END ${label}-----\n`

const der = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength)

const p256 = (): { publicKey: KeyObject; privateKey: KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })

async function serve(
  fn: HandlerFn,
  path: string,
  count: () => void
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== path) {
        res.writeHead(404).end()
        return
      }
      count()
      fn(Buffer.concat(chunks).toString('utf8')).then(
        r => {
          res.writeHead(r.statusCode, { 'content-type': r.contentType ?? 'text/plain' })
          res.end(typeof r.response === 'string' ? r.response : der(r.response))
        },
        () => res.writeHead(500).end()
      )
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

export async function startSigstoreMock(): Promise<SigstoreMock> {
  const calls = { fulcio: 0, rekor: 0, tsa: 0 }
  const since = new Date(Date.now() - 60_000)
  const ctLog = await initializeCTLog(p256())
  const ca = await initializeCA(p256(), ctLog)
  const tsa = await initializeTSA(p256())
  // @sigstore/core reads a GeneralizedTime's fraction only with three digits, where DER drops
  // trailing zeros (`.93Z`): a timestamp made on a millisecond ending in 0 would fail to parse.
  ;(tsa as unknown as { getCurrentTime: () => Date }).getCurrentTime = () => {
    const now = new Date()
    return now.getUTCMilliseconds() % 10 === 0 ? new Date(now.getTime() + 1) : now
  }
  const rekorKeys = p256()
  // The log's URL is only echoed in its entries.
  const tlog = await initializeTLog('http://127.0.0.1', rekorKeys)
  const f = await serve(fulcioHandler(ca).fn, '/api/v2/signingCert', () => calls.fulcio++)
  const r = await serve(rekorHandler(tlog).fn, '/api/v1/log/entries', () => calls.rekor++)
  const t = await serve(tsaHandler(tsa).fn, '/api/v1/timestamp', () => calls.tsa++)
  const rekorDer = der(tlog.publicKey)
  const root: TrustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: r.url,
        hashAlgorithm: HashAlgorithm.SHA2_256,
        publicKey: {
          rawBytes: rekorDer,
          keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
          validFor: { start: since }
        },
        logId: { keyId: createHash('sha256').update(rekorDer).digest() },
        checkpointKeyId: undefined,
        operator: 'sigstore.mock'
      }
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: f.url,
        certChain: { certificates: [{ rawBytes: der(ca.rootCertificate) }] },
        validFor: { start: since },
        operator: 'sigstore.mock'
      }
    ],
    ctlogs: [
      {
        baseUrl: 'http://127.0.0.1',
        hashAlgorithm: HashAlgorithm.SHA2_256,
        publicKey: {
          rawBytes: der(ctLog.publicKey),
          keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
          validFor: { start: since }
        },
        logId: { keyId: der(ctLog.logID) },
        checkpointKeyId: undefined,
        operator: 'sigstore.mock'
      }
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: t.url,
        certChain: {
          certificates: [
            { rawBytes: der(tsa.intCertificate) },
            { rawBytes: der(tsa.rootCertificate) }
          ]
        },
        validFor: { start: since },
        operator: 'sigstore.mock'
      }
    ]
  }
  return {
    fulcioUrl: f.url,
    rekorUrl: r.url,
    tsaUrl: t.url,
    trustedRoot: JSON.stringify(TrustedRoot.toJSON(root)),
    fulcioRootPem: pem('CERTIFICATE', der(ca.rootCertificate)),
    rekorPublicKeyPem: pem('PUBLIC KEY', rekorDer),
    ctLogPublicKeyPem: pem('PUBLIC KEY', der(ctLog.publicKey)),
    tsaChainPem:
      pem('CERTIFICATE', der(tsa.intCertificate)) + pem('CERTIFICATE', der(tsa.rootCertificate)),
    calls,
    close: async () => {
      for (const s of [f.server, r.server, t.server]) {
        s.closeAllConnections()
        await new Promise(resolve => s.close(resolve))
      }
    }
  }
}

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com'

/**
 * An OIDC token with GitHub's claims for a workflow run of `repository` on `ref`; its subject
 * (the certificate's SAN) is the workflow's URL at that ref, as GitHub's certificates name it.
 */
export function githubToken(repository: string, ref: string, extra: object = {}): string {
  const workflow = `${repository}/.github/workflows/build.yml@${ref}`
  const claims = {
    iss: GITHUB_ISSUER,
    aud: 'sigstore',
    sub: `https://github.com/${workflow}`,
    repository,
    ref,
    sha: 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00',
    workflow: 'build',
    event_name: ref.startsWith('refs/pull/') ? 'pull_request' : 'push',
    job_workflow_ref: workflow,
    workflow_ref: workflow,
    repository_owner: repository.split('/')[0],
    runner_environment: 'github-hosted',
    exp: Math.floor(Date.now() / 1000) + 600,
    iat: Math.floor(Date.now() / 1000),
    ...extra
  }
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.${Buffer.from('not-checked').toString('base64url')}`
}

/**
 * The mock's roots as files in `dir`, and the environment that makes cosign trust them and
 * nothing else (cosign's pkg/cosign/env: SIGSTORE_ROOT_FILE, SIGSTORE_REKOR_PUBLIC_KEY,
 * SIGSTORE_CT_LOG_PUBLIC_KEY_FILE; TUF_ROOT where no TUF repository is).
 */
export async function cosignTrusting(
  mock: SigstoreMock,
  dir: string
): Promise<Record<string, string>> {
  const files = {
    SIGSTORE_ROOT_FILE: ['fulcio.pem', mock.fulcioRootPem],
    SIGSTORE_REKOR_PUBLIC_KEY: ['rekor.pub', mock.rekorPublicKeyPem],
    SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: ['ctlog.pub', mock.ctLogPublicKeyPem]
  } as const
  const env: Record<string, string> = { TUF_ROOT: path.join(dir, 'tuf') }
  for (const [name, [file, text]] of Object.entries(files)) {
    env[name] = path.join(dir, file)
    await writeFile(env[name], text)
  }
  return env
}
