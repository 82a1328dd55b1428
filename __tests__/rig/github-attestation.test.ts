// GitHub artifact attestations end to end: the bundle run as the runner runs it (a child process),
// building and signing on the rig, `github-attestation: true`. @actions/attest signs each image's
// provenance against GitHub's own Sigstore instance for a private repository (`https://fulcio.<host>`
// and `https://timestamp.<host>` of GITHUB_SERVER_URL: its lib/endpoints.js buildGitHubEndpoints),
// here @sigstore/mock's Fulcio and timestamp authority reached through a CONNECT proxy, with the
// job's OIDC token from a stand-in endpoint, and POSTs it to a stand-in GitHub API. What was
// POSTed verifies with @sigstore/verify against the mock's trust material and names the image's
// digest, build and commit; the token is sent in that request's Authorization header only.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { bundleFromJSON } from '@sigstore/bundle'
import { toSignedEntity, Verifier } from '@sigstore/verify'
import { bundleToTemp, runAction, shownLines, type RunnerRun } from '../helpers/action-runner.js'
import { keyPair } from '../helpers/cosign.js'
import { startGitHubApi, type GitHubStandIn } from '../helpers/github-api.js'
import { rigInputs } from '../helpers/pipeline.js'
import { loadRig, rigEnv, uniqueRepo, type Rig } from '../helpers/rig.js'
import { startSigstore, type SigstoreStandIn } from '../helpers/sigstore-standin.js'

const REPO = 'acme/convox-example'
const SHA = 'abcdef0123456789abcdef0123456789abcdef01'
const TOKEN = `ghs_${randomBytes(12).toString('hex')}`
const CLAIMS = {
  iss: 'https://token.actions.githubusercontent.com',
  sub: `repo:${REPO}:ref:refs/heads/main`,
  repository: REPO,
  ref: 'refs/heads/main',
  sha: SHA,
  workflow_ref: `${REPO}/.github/workflows/build.yml@refs/heads/main`,
  job_workflow_ref: `${REPO}/.github/workflows/build.yml@refs/heads/main`,
  event_name: 'push',
  runner_environment: 'github-hosted'
}

let rig: Rig
let work: string
let dist: string
let appDir: string
let gh: GitHubStandIn
let sigstore: SigstoreStandIn

beforeAll(async () => {
  rig = loadRig()
  ;({ work, dist } = bundleToTemp('attest-'))
  appDir = await mkdtemp(path.join(work, 'app-'))
  await writeFile(path.join(appDir, 'Dockerfile'), 'FROM busybox:1.36\nRUN date > /built\n')
  await writeFile(
    path.join(appDir, 'convox.yml'),
    'services:\n  web:\n    build: .\n    port: 3000\n  worker:\n    build: .\n  cache:\n    image: busybox:1.36\n'
  )
  gh = await startGitHubApi(REPO)
  sigstore = await startSigstore('ghe.test', await mkdtemp(path.join(work, 'tls-')), CLAIMS)
}, 300_000)
afterAll(async () => {
  await gh?.close()
  await sigstore?.close()
  if (work) await rm(work, { recursive: true, force: true })
})

const push = {
  ref: 'refs/heads/main',
  repository: { full_name: REPO, id: 1, visibility: 'private' }
}

function action(inputs: Record<string, string>, env: Record<string, string>): Promise<RunnerRun> {
  return runAction(
    'index.js',
    {
      ...rigInputs(rig),
      app: 'example',
      registry: uniqueRepo('attest', rig),
      'registry-username': rig.registryUsername,
      'registry-password': rig.registryPassword,
      cache: 'none',
      reuse: 'false',
      'working-directory': appDir,
      'git-sha': SHA,
      // The job has an OIDC token (for the attestation): auto would sign keylessly.
      sign: 'key',
      'signing-key': keyPair().key,
      'github-token': TOKEN,
      'github-attestation': 'true',
      ...inputs
    },
    {
      dist,
      work,
      cwd: appDir,
      event: push,
      env: rigEnv(rig, {
        GITHUB_EVENT_NAME: 'push',
        GITHUB_REF: 'refs/heads/main',
        GITHUB_SHA: SHA,
        GITHUB_API_URL: gh.url,
        GITHUB_SERVER_URL: 'https://ghe.test',
        GITHUB_REPOSITORY: REPO,
        ...env
      }),
      timeoutMs: 240_000
    }
  )
}

interface Statement {
  subject: { name: string; digest: { sha256: string } }[]
  predicateType: string
  predicate: {
    buildDefinition: {
      externalParameters: { services: string[] }
      internalParameters: { buildId: string }
      resolvedDependencies: { digest: { gitCommit?: string } }[]
    }
  }
}

describe('github-attestation: GitHub artifact attestations of every pushed image', () => {
  it('POSTs one attestation per digest, signed by the OIDC identity through Sigstore: it verifies and names the image', async () => {
    const r = await action({}, sigstore.env)
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout }).toEqual({
      status: 0,
      out: ''
    })
    const digests = JSON.parse(r.outputs.digests ?? '{}') as Record<string, string>
    const distinct = [...new Set(Object.values(digests))]
    // web and worker share a build; cache is an image service (copied): two digests
    expect(distinct).toHaveLength(2)

    const posts = gh.requests.filter(q => q.method === 'POST' && q.path.endsWith('/attestations'))
    expect(posts.map(q => q.path)).toEqual(distinct.map(() => `/repos/${REPO}/attestations`))
    expect(gh.attestations.size).toBe(distinct.length)

    const verifier = new Verifier(sigstore.trust, {
      tlogThreshold: 0,
      ctlogThreshold: 1,
      tsaThreshold: 1
    })
    const attested = new Map<string, Statement>()
    for (const [id, json] of gh.attestations) {
      const bundle = bundleFromJSON(json)
      const signer = verifier.verify(toSignedEntity(bundle))
      // the certificate names the job's identity, as the mock Fulcio takes it from the token
      expect(signer.identity?.subjectAlternativeName).toBe(CLAIMS.sub)
      expect(signer.identity?.extensions?.issuer).toBe(CLAIMS.iss)
      const envelope = (json as { dsseEnvelope: { payload: string } }).dsseEnvelope
      const st = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as Statement
      expect(st.predicateType).toBe('https://slsa.dev/provenance/v1')
      expect(st.subject).toHaveLength(1)
      attested.set(`sha256:${st.subject[0]!.digest.sha256}`, st)
      expect(r.stdout).toContain(`: also GitHub attestation ${id}`)
    }
    expect([...attested.keys()].sort()).toEqual(distinct.sort())
    for (const st of attested.values()) {
      expect(st.predicate.buildDefinition.internalParameters.buildId).toBe(r.outputs['build-id'])
      expect(st.predicate.buildDefinition.resolvedDependencies[0]!.digest.gitCommit).toBe(SHA)
    }
    expect(
      attested.get(digests.web!)?.predicate.buildDefinition.externalParameters.services
    ).toEqual(['web', 'worker'])

    // Signed against GitHub's instance (no other host was asked for), with the job's OIDC token.
    expect([...new Set(sigstore.connects)].sort()).toEqual([
      'fulcio.ghe.test:443',
      'timestamp.ghe.test:443'
    ])
    expect(sigstore.tokenRequests).toEqual(
      distinct.map(() => ({
        authorization: `Bearer ${sigstore.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}`,
        audience: 'sigstore'
      }))
    )

    // The token: in the attestation requests' Authorization header, nowhere else.
    for (const q of posts) expect(q.authorization).toBe(`token ${TOKEN}`)
    const elsewhere = [
      ...gh.requests.map(q => `${q.path} ${q.body}`),
      ...sigstore.requests.map(q => `${JSON.stringify(q.headers)} ${q.body}`),
      shownLines(r.stdout).join('\n'),
      JSON.stringify(r.outputs),
      r.summary
    ]
    for (const text of elsewhere) expect(text).not.toContain(TOKEN)
    // Nor the job's OIDC token, or what asks for it, in what the run showed or set.
    for (const text of elsewhere.slice(-3)) {
      expect(text).not.toContain(sigstore.token)
      expect(text).not.toContain(sigstore.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
    }
  })

  it('refuses a job without an OIDC token before building: one line naming github-attestation', async () => {
    const before = gh.requests.length
    const r = await action({}, {})
    expect(r.status).toBe(1)
    expect(shownLines(r.stdout).filter(l => l.startsWith('::error'))).toEqual([
      expect.stringMatching(
        /github-attestation: the job has no OIDC token: the job needs `permissions: id-token: write, attestations: write`$/
      ),
      '::error::convox-build stopped: 1 problem, see the errors above'
    ])
    expect(r.stdout).not.toMatch(/exporting to image|pushing/i)
    expect(gh.requests.length).toBe(before)
  })
})
