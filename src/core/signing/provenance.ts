// The SLSA v1 provenance of one image digest (https://slsa.dev/spec/v1.0/provenance), as an
// in-toto statement. Only names and identifiers: never a build arg's value (a secret's, or one
// from the app's env), so nothing here needs redacting.
import type { CiContext } from '../commit.js'
import { fullRef } from '../trust.js'

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1'
export const BUILD_TYPE = 'https://github.com/convox-build/convox-build/build-types/convox-app/v1'
export const BUILDER_ID = 'https://github.com/convox-build/convox-build'

export interface ProvenanceInput {
  /** `registry/repository`: the subject's name. */
  repository: string
  digest: string
  app: string
  buildId: string
  /** The services whose image this digest is (services sharing a build share it). */
  services: string[]
  /** The reuse content key, when the build had one. */
  reuseKey?: string
  /** The image this one was reused from, when it was not built. */
  reusedFrom?: string
  /** The image an image service was copied from. */
  copiedFrom?: string
  gitSha: string
  ci: CiContext
  /** Base images as resolved (`ref` → `sha256:…`). */
  baseImages: Record<string, string>
  startedOn: string
  finishedOn: string
}

/** An in-toto statement: what it says (`predicate`) of its subjects (name and digest). */
export interface Statement {
  _type: string
  subject: { name: string; digest: Record<string, string> }[]
  predicateType: string
  predicate: object
}

export function provenanceStatement(p: ProvenanceInput): Statement {
  const [algorithm, hex] = p.digest.split(':')
  const ref = fullRef(p.ci)
  const source = p.ci.repository || 'local'
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: p.repository, digest: { [algorithm ?? 'sha256']: hex ?? '' } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: {
          app: p.app,
          services: p.services,
          repository: p.ci.repository,
          ref,
          pullRequest: p.ci.pullRequest || undefined
        },
        internalParameters: {
          buildId: p.buildId,
          reuseKey: p.reuseKey,
          reusedFrom: p.reusedFrom,
          copiedFrom: p.copiedFrom,
          scope: p.ci.scope.name
        },
        resolvedDependencies: [
          ...(p.gitSha
            ? [{ uri: `git+${source}${ref ? `@${ref}` : ''}`, digest: { gitCommit: p.gitSha } }]
            : []),
          ...Object.entries(p.baseImages).map(([uri, d]) => ({
            uri: `oci://${uri}`,
            digest: { sha256: d.replace(/^sha256:/, '') }
          }))
        ]
      },
      runDetails: {
        builder: { id: BUILDER_ID, version: { ci: p.ci.service || 'local' } },
        metadata: {
          invocationId: p.ci.runUrl || p.buildId,
          startedOn: p.startedOn,
          finishedOn: p.finishedOn
        }
      }
    }
  }
}
