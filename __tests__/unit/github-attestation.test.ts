// The action's github-attestation capability (src/action/attestation.ts): given only when asked,
// and refused, before anything is built, where the job could not attest.
import { describe, expect, it } from '@jest/globals'
import { githubAttestation } from '../../src/action/attestation.js'
import { isUserError } from '../../src/core/errors.js'

const OIDC = { ACTIONS_ID_TOKEN_REQUEST_URL: 'http://x/token', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't' }

describe('githubAttestation', () => {
  it('is no capability when github-attestation is false', () => {
    expect(
      githubAttestation({ githubAttestation: false, githubToken: 'tok' }, OIDC)
    ).toBeUndefined()
  })

  it('is one when asked, with an OIDC token and github-token', () => {
    expect(githubAttestation({ githubAttestation: true, githubToken: 'tok' }, OIDC)).toEqual(
      expect.any(Function)
    )
  })

  it.each([
    [
      {},
      'tok',
      /github-attestation: the job has no OIDC token: the job needs `permissions: id-token: write, attestations: write`/
    ],
    [OIDC, '', /github-attestation: needs github-token/]
  ])('refuses a job that cannot attest (%#)', (env, token, message) => {
    let caught: unknown
    try {
      githubAttestation({ githubAttestation: true, githubToken: token }, env)
    } catch (e) {
      caught = e
    }
    expect(isUserError(caught)).toBe(true)
    expect((caught as Error).message).toMatch(message)
  })
})
