// The sign step of finish: every image digest the run pushed, built or reused (one per digest:
// services sharing a build share it) gets a cosign signature and a signed SLSA v1 provenance
// attestation, in cosign's tag scheme, with the key or keylessly (src/core/signing/signer.ts).
// Before the release: the rack never releases what the run could not sign.
import { readFile } from 'node:fs/promises'
import { noCi } from '../commit.js'
import { parseDockerfile } from '../dockerfile.js'
import { forEachLimit } from '../pool.js'
import { parseReference } from '../registry/reference.js'
import { imageRefs } from '../reuse/key.js'
import type { ServiceReport } from '../run-environment.js'
import { attachLayer, simpleSigningPayload } from '../signing/cosign-tags.js'
import { provenanceStatement, SLSA_PROVENANCE_V1 } from '../signing/provenance.js'
import type { Finishing } from './finish.js'
import { provenancePublisher } from './publish-provenance.js'

/** The images of the run, one entry per digest, with every service that has it. */
export function imagesByDigest(
  services: ServiceReport[]
): { image: string; services: ServiceReport[] }[] {
  const by = new Map<string, { image: string; services: ServiceReport[] }>()
  for (const svc of services) {
    if (!svc.digest) continue
    const repo = parseReference(svc.image)
    const id = `${repo.registry}/${repo.repository}@${svc.digest}`
    const entry = by.get(id) ?? { image: svc.image, services: [] }
    entry.services.push(svc)
    by.set(id, entry)
  }
  return [...by.values()]
}

export async function signImages(f: Finishing): Promise<void> {
  const { r, s } = f
  const signer = r.signer
  if (!s.target.push) return
  if (!signer) {
    if (r.settings.sign === 'auto')
      r.logger.info(
        'Images not signed: the CI gave no OIDC token and no signing-key is given (sign: auto)'
      )
    if (r.settings.githubAttestation)
      r.logger.warning('github-attestation: the images are not signed: no attestation written')
    return
  }
  const ci = (await r.run.ci) ?? noCi(r.gitSha)
  const images = imagesByDigest(f.services)
  const startedOn = s.started.date.toISOString()
  const resolved = new Map<number, Promise<Record<string, string>>>()
  const bases = (build: number): Promise<Record<string, string>> => {
    let p = resolved.get(build)
    if (!p) {
      p = baseImages(f, build)
      resolved.set(build, p)
    }
    return p
  }
  const publish = provenancePublisher(f)
  await r.logger.group('Sign', () =>
    forEachLimit(images, 4, async ({ image, services }) => {
      const ref = parseReference(image)
      const repo = { registry: ref.registry, repository: ref.repository }
      const digest = services[0]!.digest
      const signature = await signer.signature(simpleSigningPayload(repo, digest))
      await attachLayer(f.tools.client, repo, digest, 'sig', signature)
      const build = services[0]!.build
      const statement = provenanceStatement({
        repository: `${repo.registry}/${repo.repository}`,
        digest,
        app: s.plan.app,
        buildId: s.plan.buildId,
        services: services.map(x => x.name),
        reusedFrom: services[0]!.reusedFrom,
        reuseKey: services[0]!.reuseKey,
        copiedFrom:
          build === null
            ? r.run.secrets.redact(
                s.plan.services.find(x => x.name === services[0]!.name)?.from ?? ''
              ) || undefined
            : undefined,
        gitSha: r.gitSha,
        ci,
        baseImages: build === null ? {} : await bases(build),
        startedOn,
        finishedOn: new Date().toISOString()
      })
      const { layer, bundle } = await signer.attestation(statement, SLSA_PROVENANCE_V1)
      await attachLayer(f.tools.client, repo, digest, 'att', layer)
      r.logger.info(
        `signed ${repo.registry}/${repo.repository}@${digest} (${services.map(x => x.name).join(', ')}): signature and SLSA provenance${signer.kind === 'keyless' ? ', keyless (Sigstore)' : ''}`
      )
      await publish(repo, digest, statement, bundle)
    })
  )
}

/**
 * The images a build read (FROM, `COPY --from`, the syntax frontend) and the digests they resolve
 * to: those the reuse key was made of. A reference spelled with a secret (an arg's value from the
 * app's env) is left out.
 */
async function baseImages(f: Finishing, build: number): Promise<Record<string, string>> {
  const spec = f.s.plan.builds[build]
  if (!spec) return {}
  const model = parseDockerfile(await readFile(spec.dockerfilePath, 'utf8'))
  const secrets = f.r.run.secrets
  const refs = imageRefs(model, spec.argValues).filter(ref => secrets.redact(ref) === ref)
  const out: Record<string, string> = {}
  await forEachLimit(refs, 4, async ref => {
    const found = await f.tools.client.findManifest(parseReference(ref))
    if (found) out[ref] = found.digest
  })
  return out
}
