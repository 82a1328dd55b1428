// GitHub artifact attestations (`github-attestation`): each image's provenance, as the core hands
// it over (RunEnvironment.attest), signed by @actions/attest with the job's OIDC token through
// Sigstore (public-good for a public repository, GitHub's own instance otherwise) and stored with
// POST /repos/{owner}/{repo}/attestations, where `gh attestation verify oci://IMAGE` finds it by
// the image's digest. One attestation per digest, as the core's provenance is per digest.
import { UserError } from '../core/errors.js'
import type { RunEnvironment } from '../core/run-environment.js'
import type { Settings } from '../core/settings.js'

const PERMISSIONS = 'the job needs `permissions: id-token: write, attestations: write`'

/**
 * The capability the core calls with each statement; undefined when not asked for. Refuses,
 * before anything is built, a job that could not attest: no OIDC token or no github-token.
 */
export function githubAttestation(
  settings: Pick<Settings, 'githubAttestation' | 'githubToken'>,
  env: NodeJS.ProcessEnv
): RunEnvironment['attest'] {
  if (!settings.githubAttestation) return undefined
  if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    throw new UserError({
      input: 'github-attestation',
      message: `github-attestation: the job has no OIDC token: ${PERMISSIONS}`
    })
  }
  if (!settings.githubToken) {
    throw new UserError({
      input: 'github-attestation',
      message: 'github-attestation: needs github-token (a token with `attestations: write`)'
    })
  }
  return async statement => {
    // (`eager`: in the same bundle file, evaluated on first use)
    const { attest } = await import(/* webpackMode: "lazy" */ '@actions/attest')
    const made = await attest({
      subjects: statement.subject,
      predicateType: statement.predicateType,
      predicate: statement.predicate,
      token: settings.githubToken
    })
    return made.attestationID
  }
}
