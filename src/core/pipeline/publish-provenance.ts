// A signed provenance's other homes, beside cosign's `.att` tag: a Sigstore bundle as an OCI
// referrer of the image (oci-referrers), and the CI's own attestation (github-attestation: the
// shell's `attest`, which the core hands the statement and nothing CI-specific).
import { RemoteError, UserError } from '../errors.js'
import type { RepositoryName } from '../registry/reference.js'
import { statementBundle, type BundleSigning } from '../signing/bundle.js'
import type { Statement } from '../signing/provenance.js'
import { attachReferrer, bundleArtifact, referrersTag } from '../signing/referrers.js'
import type { Finishing } from './finish.js'

export type ProvenancePublisher = (
  repo: RepositoryName,
  digest: string,
  statement: Statement
) => Promise<void>

/** What publishes each image's provenance, its bundles signed by `signing`. */
export function provenancePublisher(f: Finishing, signing: BundleSigning): ProvenancePublisher {
  const { r } = f
  const attest = r.settings.githubAttestation ? r.run.attest : undefined
  if (r.settings.githubAttestation && !attest) {
    ;(r.logger.notice ?? r.logger.info)(
      'github-attestation: GitHub artifact attestations are written by the GitHub Action only: none written'
    )
  }
  const mode = r.settings.ociReferrers
  // registries whose manifest PUT said they have no referrers API: in `auto`, nothing more to push
  const noApi = new Set<string>()
  return async (repo, digest, statement) => {
    const image = `${repo.registry}/${repo.repository}@${digest}`
    const where: string[] = []
    if (mode === 'always' || (mode === 'auto' && !noApi.has(repo.registry))) {
      const bundle = await statementBundle(statement, signing)
      const found = await attachReferrer(
        f.tools.client,
        repo,
        digest,
        bundleArtifact(bundle, statement.predicateType),
        r.logger,
        mode === 'always'
      )
      if (found === 'unindexed') noApi.add(repo.registry)
      if (found === 'referrers-api') where.push('a Sigstore bundle among its OCI referrers')
      if (found === 'referrers-tag')
        where.push(`a Sigstore bundle in its referrers tag :${referrersTag(digest)}`)
    }
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
