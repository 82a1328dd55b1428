// Attaching a provenance bundle as an OCI referrer (src/core/signing/referrers.ts) against a
// stand-in registry on loopback: one with the referrers API (its manifest PUT answers
// `OCI-Subject`) gets no fallback tag; one without gets the referrers tag schema's index, merged
// with what is there and bounded however hostile that is. The bundle is @sigstore/sign's
// (src/core/signing/bundle.ts): over our key, @sigstore/verify accepts it with the key's public
// half; over a keyless signer passed in (@sigstore/mock's Fulcio and timestamp authority on
// loopback), with the mock's trust material.
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from '@jest/globals'
import { silentLogger } from '../../src/core/log.js'
import type { Finishing } from '../../src/core/pipeline/finish.js'
import { provenancePublisher } from '../../src/core/pipeline/publish-provenance.js'
import { MediaType, RegistryClient, sha256 } from '../../src/core/registry/client.js'
import type { RepositoryName } from '../../src/core/registry/reference.js'
import type { Statement } from '../../src/core/signing/provenance.js'
import { keyHint, keyBundleSigning, statementBundle } from '../../src/core/signing/bundle.js'
import {
  attachReferrer,
  bundleArtifact,
  MAX_REFERRERS,
  OCI_EMPTY,
  referrersTag
} from '../../src/core/signing/referrers.js'
import { bundleFromJSON } from '@sigstore/bundle'
import { FulcioSigner, TSAWitness } from '@sigstore/sign'
import { toSignedEntity, Verifier } from '@sigstore/verify'
import { verifyKeyBundle } from '../helpers/cosign.js'
import { MiB } from '../helpers/hostile-server.js'
import { captureLogger, type CapturedLog } from '../helpers/logger.js'
import { serveSigstore, unsignedJwt } from '../helpers/sigstore-standin.js'

const SLSA = 'https://slsa.dev/provenance/v1'
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json'

interface StandIn {
  host: string
  /** Manifests by tag or digest, as pushed (or planted). */
  manifests: Map<string, { type: string; bytes: Buffer }>
  puts: string[]
  /** Manifest GETs of these references are answered 403 (a registry failing now). */
  refused: Set<string>
  close(): Promise<void>
}

/** A distribution API in memory: blobs and manifests of one repository, no auth. */
async function registry(opts: {
  referrersApi: boolean
  /** Answers 400 to a manifest with a subject (a registry that knows nothing of OCI 1.1). */
  refuseSubject?: boolean
}): Promise<StandIn> {
  const blobs = new Map<string, Buffer>()
  const manifests = new Map<string, { type: string; bytes: Buffer }>()
  const puts: string[] = []
  const refused = new Set<string>()
  const body = (req: IncomingMessage): Promise<Buffer> =>
    new Promise(resolve => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => resolve(Buffer.concat(chunks)))
    })
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const data = await body(req)
      const blob = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname)
      const manifest = /\/manifests\/([^/]+)$/.exec(url.pathname)
      if (url.pathname === '/v2/') return res.writeHead(200).end('{}')
      if (blob && req.method === 'HEAD') {
        const b = blobs.get(blob[1]!)
        return res.writeHead(b ? 200 : 404, b ? { 'content-length': b.length } : {}).end()
      }
      if (url.pathname.endsWith('/blobs/uploads/') && req.method === 'POST') {
        return res.writeHead(202, { location: '/v2/app/blobs/uploads/u1' }).end()
      }
      if (url.pathname.includes('/blobs/uploads/') && req.method === 'PUT') {
        blobs.set(url.searchParams.get('digest') ?? '', data)
        return res.writeHead(201).end()
      }
      if (manifest && req.method === 'GET') {
        if (refused.has(decodeURIComponent(manifest[1]!)))
          return res.writeHead(403).end('{"errors":[{"code":"DENIED"}]}')
        const m = manifests.get(decodeURIComponent(manifest[1]!))
        if (!m) return res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        return res.writeHead(200, { 'content-type': m.type }).end(m.bytes)
      }
      if (manifest && req.method === 'PUT') {
        const ref = decodeURIComponent(manifest[1]!)
        puts.push(ref)
        if (opts.refuseSubject && data.includes('"subject"'))
          return res.writeHead(400).end('{"errors":[{"code":"MANIFEST_INVALID"}]}')
        manifests.set(ref, { type: req.headers['content-type'] ?? '', bytes: data })
        manifests.set(sha256(data), { type: req.headers['content-type'] ?? '', bytes: data })
        const subject = (JSON.parse(data.toString()) as { subject?: { digest: string } }).subject
        const headers: Record<string, string> = { 'docker-content-digest': sha256(data) }
        if (opts.referrersApi && subject) headers['oci-subject'] = subject.digest
        return res.writeHead(201, headers).end()
      }
      res.writeHead(404).end()
    })()
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    manifests,
    puts,
    refused,
    close: async () => {
      server.closeAllConnections()
      await new Promise(r => server.close(r))
    }
  }
}

let open: StandIn[] = []
afterEach(async () => {
  await Promise.all(open.map(s => s.close()))
  open = []
})

async function withImage(
  referrersApi: boolean,
  refuseSubject = false
): Promise<{
  reg: StandIn
  client: RegistryClient
  repo: { registry: string; repository: string }
  digest: string
  imageBytes: Buffer
}> {
  const reg = await registry({ referrersApi, refuseSubject })
  open.push(reg)
  const client = new RegistryClient({ retries: 0 })
  const repo = { registry: reg.host, repository: 'app' }
  const imageBytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] })
  )
  const digest = await client.putManifest({ ...repo, tag: 'web' }, imageBytes, MediaType.ociIndex)
  return { reg, client, repo, digest, imageBytes }
}

function newKey(): {
  privateKey: ReturnType<typeof generateKeyPairSync>['privateKey']
  publicKeyPem: string
} {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return {
    privateKey,
    publicKeyPem: createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString()
  }
}

const statementOf = (
  digest: string
): {
  _type: string
  subject: { name: string; digest: Record<string, string> }[]
  predicateType: string
  predicate: object
} => ({
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'reg/app', digest: { sha256: digest.slice('sha256:'.length) } }],
  predicateType: SLSA,
  predicate: { buildDefinition: { buildType: 'x' } }
})

const json = <T>(b: Buffer | undefined): T => JSON.parse(b?.toString() ?? 'null') as T

interface Index {
  mediaType: string
  manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[]
}

describe('the provenance bundle (@sigstore/sign over our key)', () => {
  it("is a v0.3 DSSE bundle naming the key by cosign's hint, which @sigstore/verify accepts with the public key", async () => {
    const key = newKey()
    const digest = `sha256:${'b'.repeat(64)}`
    const bytes = await statementBundle(statementOf(digest), keyBundleSigning(key))
    const b = json<{
      mediaType: string
      verificationMaterial: { publicKey: { hint: string }; tlogEntries: unknown[] }
      dsseEnvelope: { payloadType: string; payload: string; signatures: { keyid: string }[] }
    }>(bytes)
    expect(b.mediaType).toBe(BUNDLE)
    const der = createPublicKey(key.publicKeyPem).export({ format: 'der', type: 'spki' })
    expect(b.verificationMaterial.publicKey.hint).toBe(
      createHash('sha256').update(der).digest('base64')
    )
    expect(keyHint(key.publicKeyPem)).toBe(b.verificationMaterial.publicKey.hint)
    // cosign writes no keyid in the envelope; sigstore-go skips a signature with another one
    expect(b.dsseEnvelope.signatures.map(s => s.keyid ?? '')).toEqual([''])
    expect(b.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json')

    expect(() => verifyKeyBundle(b, key.publicKeyPem)).not.toThrow()
    expect(() => verifyKeyBundle(b, newKey().publicKeyPem)).toThrow()
  })
})

describe('the provenance bundle with a keyless signer (BundleSigning: Fulcio and a timestamp)', () => {
  it("is made by the signer passed in: @sigstore/mock's Fulcio certificate, its timestamp; it verifies", async () => {
    const sigstore = await serveSigstore()
    try {
      const claims = { iss: 'https://issuer.example', sub: 'repo:acme/app:ref:refs/heads/main' }
      const signing = {
        signer: new FulcioSigner({
          fulcioBaseURL: sigstore.url,
          identityProvider: { getToken: () => Promise.resolve(unsignedJwt(claims)) }
        }),
        witnesses: [new TSAWitness({ tsaBaseURL: sigstore.url })]
      }
      const digest = `sha256:${'e'.repeat(64)}`
      const bytes = await statementBundle(statementOf(digest), signing)
      const b = json<{ mediaType: string; verificationMaterial: { certificate?: unknown } }>(bytes)
      expect(b.mediaType).toBe(BUNDLE)
      expect(b.verificationMaterial.certificate).toBeDefined()
      const signer = new Verifier(sigstore.trust, {
        tlogThreshold: 0,
        ctlogThreshold: 1,
        tsaThreshold: 1
      }).verify(toSignedEntity(bundleFromJSON(b)))
      expect(signer.identity?.subjectAlternativeName).toBe(claims.sub)
      expect(signer.identity?.extensions?.issuer).toBe(claims.iss)
    } finally {
      await sigstore.close()
    }
  })
})

describe('attachReferrer', () => {
  it('a registry with the referrers API (OCI-Subject): the referrer only, no fallback tag', async () => {
    const { reg, client, repo, digest, imageBytes } = await withImage(true)
    const bundle = await statementBundle(statementOf(digest), keyBundleSigning(newKey()))
    const where = await attachReferrer(
      client,
      repo,
      digest,
      bundleArtifact(bundle, SLSA),
      silentLogger,
      true
    )
    expect(where).toBe('referrers-api')
    expect(reg.manifests.has(referrersTag(digest))).toBe(false)
    const pushed = reg.puts.filter(p => p.startsWith('sha256:'))
    expect(pushed).toHaveLength(1)
    // as cosign's WriteAttestationNewBundleFormat writes it
    const m = json<{
      mediaType: string
      artifactType: string
      config: { mediaType: string; size: number }
      layers: { mediaType: string; digest: string }[]
      subject: { mediaType: string; digest: string; size: number }
      annotations: Record<string, string>
    }>(reg.manifests.get(pushed[0]!)?.bytes)
    expect(m.mediaType).toBe(MediaType.ociManifest)
    expect(m.artifactType).toBe(BUNDLE)
    expect(m.config).toMatchObject({ mediaType: OCI_EMPTY, size: 2 })
    expect(m.layers).toEqual([{ mediaType: BUNDLE, digest: sha256(bundle), size: bundle.length }])
    expect(m.subject).toEqual({
      mediaType: MediaType.ociIndex,
      digest,
      size: imageBytes.length
    })
    expect(m.annotations).toEqual({
      'org.opencontainers.image.created': expect.stringMatching(
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
      ),
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': SLSA
    })
  })

  it('a registry without it: the referrers tag lists the bundle, once, merged with what was there', async () => {
    const { reg, client, repo, digest } = await withImage(false)
    const other = {
      mediaType: MediaType.ociManifest,
      digest: `sha256:${'c'.repeat(64)}`,
      size: 10,
      artifactType: 'application/example'
    }
    reg.manifests.set(referrersTag(digest), {
      type: MediaType.ociIndex,
      bytes: Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [other] })
      )
    })
    const artifact = bundleArtifact(
      await statementBundle(statementOf(digest), keyBundleSigning(newKey())),
      SLSA
    )
    expect(await attachReferrer(client, repo, digest, artifact, silentLogger, true)).toBe(
      'referrers-tag'
    )
    // the same referrer again (a retried step) is listed once
    expect(await attachReferrer(client, repo, digest, artifact, silentLogger, true)).toBe(
      'referrers-tag'
    )
    const index = json<Index>(reg.manifests.get(referrersTag(digest))?.bytes)
    expect(index.mediaType).toBe(MediaType.ociIndex)
    expect(index.manifests).toHaveLength(2)
    expect(index.manifests[0]).toEqual(other)
    expect(index.manifests[1]).toMatchObject({
      artifactType: BUNDLE,
      annotations: { 'dev.sigstore.bundle.predicateType': SLSA }
    })
    expect(reg.manifests.has(index.manifests[1]!.digest)).toBe(true)
  })

  it('without fallbackTag: pushed, but no tag written (nowhere indexed)', async () => {
    const { reg, client, repo, digest } = await withImage(false)
    const artifact = bundleArtifact(
      await statementBundle(statementOf(digest), keyBundleSigning(newKey())),
      SLSA
    )
    expect(await attachReferrer(client, repo, digest, artifact, silentLogger, false)).toBe(
      'unindexed'
    )
    expect(reg.manifests.has(referrersTag(digest))).toBe(false)
  })

  it('a hostile fallback index (thousands of entries, junk, huge annotations) is cut to the newest well-formed MAX_REFERRERS', async () => {
    const { reg, client, repo, digest } = await withImage(false)
    const entry = (i: number): object => ({
      mediaType: MediaType.ociManifest,
      digest: `sha256:${i.toString(16).padStart(64, '0')}`,
      size: i
    })
    const planted = [
      ...Array.from({ length: 20_000 }, (_, i) => entry(i)),
      { mediaType: MediaType.ociManifest, digest: 'sha256:nothex', size: 1 },
      { mediaType: MediaType.ociManifest, digest: `sha256:${'d'.repeat(64)}`, size: -1 },
      'junk',
      null,
      { ...entry(1), annotations: { big: 'x'.repeat(100_000) } },
      { ...entry(2), annotations: { n: 7 } }
    ]
    const bytes = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: planted })
    )
    expect(bytes.length).toBeGreaterThan(MiB)
    reg.manifests.set(referrersTag(digest), { type: MediaType.ociIndex, bytes })
    const artifact = bundleArtifact(
      await statementBundle(statementOf(digest), keyBundleSigning(newKey())),
      SLSA
    )
    await attachReferrer(client, repo, digest, artifact, silentLogger, true)
    const index = json<Index>(reg.manifests.get(referrersTag(digest))?.bytes)
    expect(index.manifests).toHaveLength(MAX_REFERRERS)
    expect(index.manifests.at(-1)?.artifactType).toBe(BUNDLE)
    // the newest well-formed ones before ours, in order; none of the junk
    expect(index.manifests.slice(0, -1)).toEqual(
      Array.from({ length: MAX_REFERRERS - 1 }, (_, i) => entry(20_000 - MAX_REFERRERS + 1 + i))
    )
    expect(reg.manifests.get(referrersTag(digest))!.bytes.length).toBeLessThan(64 * 1024)
  })

  it('a registry failing to answer for the fallback tag: the step fails, the index there is kept', async () => {
    const { reg, client, repo, digest } = await withImage(false)
    const other = { mediaType: MediaType.ociManifest, digest: `sha256:${'1'.repeat(64)}`, size: 1 }
    const kept = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [other] }
    reg.manifests.set(referrersTag(digest), {
      type: MediaType.ociIndex,
      bytes: Buffer.from(JSON.stringify(kept))
    })
    reg.refused.add(referrersTag(digest))
    const artifact = bundleArtifact(
      await statementBundle(statementOf(digest), keyBundleSigning(newKey())),
      SLSA
    )
    await expect(
      attachReferrer(client, repo, digest, artifact, silentLogger, true)
    ).rejects.toThrow(/403/)
    expect(json<Index>(reg.manifests.get(referrersTag(digest))?.bytes).manifests).toEqual([other])
  })

  it('a fallback tag past the bound of a manifest (or not an index) is replaced, with a warning', async () => {
    const { reg, client, repo, digest } = await withImage(false)
    reg.manifests.set(referrersTag(digest), {
      type: MediaType.ociIndex,
      bytes: Buffer.alloc(5 * MiB, ' ')
    })
    const warnings: string[] = []
    const logger = { ...silentLogger, warning: (m: string) => void warnings.push(m) }
    const artifact = bundleArtifact(
      await statementBundle(statementOf(digest), keyBundleSigning(newKey())),
      SLSA
    )
    await attachReferrer(client, repo, digest, artifact, logger, true)
    const index = json<Index>(reg.manifests.get(referrersTag(digest))?.bytes)
    expect(index.manifests.map(m => m.artifactType)).toEqual([BUNDLE])
    expect(warnings).toEqual([
      expect.stringMatching(
        /:sha256-[0-9a-f]{64}: the referrers index there is unreadable \(.*larger than 4 MiB.*\): replaced$/
      )
    ])
  })
})

type Publisher = (repo: RepositoryName, digest: string, statement: Statement) => Promise<void>

describe("provenancePublisher (the sign step's hook)", () => {
  const publisherOn = (
    client: RegistryClient,
    ociReferrers: 'auto' | 'always' | 'off'
  ): { publish: Publisher; log: CapturedLog } => {
    const log = captureLogger()
    const f = {
      r: {
        settings: { ociReferrers, githubAttestation: false },
        run: {},
        logger: log.logger
      },
      tools: { client }
    } as unknown as Finishing
    const signing = keyBundleSigning(newKey())
    const publisher = provenancePublisher(f)
    const publish: Publisher = (repo, digest, statement) =>
      publisher(repo, digest, statement, () => statementBundle(statement, signing))
    return { publish, log }
  }
  const second = async (
    client: RegistryClient,
    repo: { registry: string; repository: string }
  ): Promise<string> =>
    client.putManifest(
      { ...repo, tag: 'worker' },
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociIndex,
          manifests: [
            { mediaType: MediaType.ociManifest, digest: `sha256:${'f'.repeat(64)}`, size: 1 }
          ]
        })
      ),
      MediaType.ociIndex
    )

  it('auto, no referrers API: one referrer pushed to learn it, none after; no tag', async () => {
    const { reg, client, repo, digest } = await withImage(false)
    const other = await second(client, repo)
    const { publish, log } = publisherOn(client, 'auto')
    await publish(repo, digest, statementOf(digest))
    await publish(repo, other, statementOf(other))
    expect(reg.puts.filter(p => p.startsWith('sha256:'))).toHaveLength(1)
    expect([...reg.manifests.keys()].filter(k => k.startsWith('sha256-'))).toEqual([])
    expect(log.lines).toEqual([])
  })

  it('auto, a registry refusing the referrer: a warning, the run goes on, no more tries there', async () => {
    const { reg, client, repo, digest } = await withImage(false, true)
    const other = await second(client, repo)
    const { publish, log } = publisherOn(client, 'auto')
    await publish(repo, digest, statementOf(digest))
    await publish(repo, other, statementOf(other))
    expect(reg.puts.filter(p => p.startsWith('sha256:'))).toHaveLength(1)
    expect(log.warnings.map(w => w.message)).toEqual([
      expect.stringMatching(
        /^oci-referrers: 127\.0\.0\.1:\d+ refused the provenance as an OCI referrer \(.*HTTP 400: MANIFEST_INVALID\): it is in cosign's tags only$/
      )
    ])
  })

  it('always: the refusal fails the step', async () => {
    const { client, repo, digest } = await withImage(false, true)
    const { publish } = publisherOn(client, 'always')
    await expect(publish(repo, digest, statementOf(digest))).rejects.toThrow(/HTTP 400/)
  })

  it('off: nothing pushed', async () => {
    const { reg, client, repo, digest } = await withImage(true)
    const { publish } = publisherOn(client, 'off')
    await publish(repo, digest, statementOf(digest))
    expect(reg.puts).toEqual(['web'])
  })
})
