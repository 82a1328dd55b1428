// A signed provenance's other homes, beside cosign's `.att` tag: a Sigstore bundle as an OCI
// referrer of the image (oci-referrers), and the CI's own attestation (github-attestation: the
// shell's `attest`, which the core hands the statement and nothing CI-specific).
import { RemoteError, UserError } from '../errors.js'
import type { RepositoryName } from '../registry/reference.js'
import type { Statement } from '../signing/provenance.js'
import { attachReferrer, bundleArtifact, referrersTag } from '../signing/referrers.js'
import type { Finishing } from './finish.js'

/** `bundle`: the statement's Sigstore bundle (JSON), made when a referrer is pushed. */
export type ProvenancePublisher = (
  repo: RepositoryName,
  digest: string,
  statement: Statement,
  bundle: () => Promise<Buffer>
) => Promise<void>

/** What publishes each image's provenance beside cosign's tags. */
export function provenancePublisher(f: Finishing): ProvenancePublisher {
  const { r } = f
  const attest = r.settings.githubAttestation ? r.run.attest : undefined
  if (r.settings.githubAttestation && !attest) {
    ;(r.logger.notice ?? r.logger.info)(
      'github-attestation: GitHub artifact attestations are written by the GitHub Action only: none written'
    )
  }
  const mode = r.settings.ociReferrers
  // Registries without the referrers API (their manifest PUT said no OCI-Subject) or that refused
  // the referrer: in `auto` nothing more is pushed there; cosign's tags hold the provenance.
  const skipped = new Set<string>()
  const referrer = async (
    repo: RepositoryName,
    digest: string,
    statement: Statement,
    bundle: () => Promise<Buffer>
  ): Promise<string | undefined> => {
    if (mode === 'off' || (mode === 'auto' && skipped.has(repo.registry))) return undefined
    const artifact = bundleArtifact(await bundle(), statement.predicateType)
    let found: Awaited<ReturnType<typeof attachReferrer>>
    try {
      found = await attachReferrer(
        f.tools.client,
        repo,
        digest,
        artifact,
        r.logger,
        mode === 'always'
      )
    } catch (e) {
      if (mode === 'always' || r.run.signal?.aborted) throw e
      r.logger.warning(
        `oci-referrers: ${repo.registry} refused the provenance as an OCI referrer (${(e as Error).message}): it is in cosign's tags only`
      )
      found = 'unindexed'
    }
    if (found === 'unindexed') skipped.add(repo.registry)
    if (found === 'referrers-api') return 'a Sigstore bundle among its OCI referrers'
    if (found === 'referrers-tag')
      return `a Sigstore bundle in its referrers tag :${referrersTag(digest)}`
    return undefined
  }
  return async (repo, digest, statement, bundle) => {
    const image = `${repo.registry}/${repo.repository}@${digest}`
    const where: string[] = []
    const referred = await referrer(repo, digest, statement, bundle)
    if (referred) where.push(referred)
    if (attest) where.push(`GitHub attestation ${await attestOnCi(attest, image, statement)}`)
    if (where.length > 0) r.logger.info(`provenance of ${image}: also ${where.join('; ')}`)
  }
}

async function attestOnCi(
  attest: (statement: Statement) => Promise<string | undefined>,
  image: string,
  statement: Statement
): Promise<string> {
  try {
    return (await attest(statement)) ?? '(no id returned)'
  } catch (e) {
    if (e instanceof UserError) throw e
    throw new RemoteError(
      `github-attestation: cannot attest ${image}: ${(e as Error).message} (the job needs \`permissions: id-token: write, attestations: write\`)`
    )
  }
}
