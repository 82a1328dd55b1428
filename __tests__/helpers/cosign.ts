// cosign, the independent verifier of what we sign (built into the rig by scripts/rig/tools.sh),
// @sigstore/verify for key bundles, and the keys the signing tests sign with.
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
import { bundleFromJSON } from '@sigstore/bundle'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify'
import type { ExecResult } from '../../src/core/exec.js'
import { loadRig, run, type Rig } from './rig.js'

/** A P-256 key pair as PEM (PKCS#8, encrypted with `passphrase` when given; SPKI). */
export function keyPair(passphrase?: string): { key: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: passphrase
      ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }
      : { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' }
  })
  return { key: privateKey, pub: publicKey }
}

/**
 * cosign against the rig's plain-http registry, logged in through `dockerConfig`; key signatures
 * are in no transparency log (`--insecure-ignore-tlog`, an air-gapped registry's case).
 */
export function cosign(
  args: string[],
  dockerConfig: string,
  rig: Rig = loadRig()
): Promise<ExecResult> {
  const flags = ['--allow-insecure-registry', '--allow-http-registry', '--insecure-ignore-tlog']
  return run(join(rig.rigBin, 'cosign'), [...args, ...flags], { rig, dockerConfig })
}

/** The in-toto statement of the first attestation `cosign verify-attestation` printed. */
export function firstStatement<T>(stdout: string): T {
  const envelope = JSON.parse(stdout.trim().split('\n')[0]!) as { payload: string }
  return JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as T
}

/** A trusted root with no authority: a key's bundle without a log needs none. */
export const EMPTY_TRUSTED_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: []
}

/**
 * Verifies a key's Sigstore bundle (its JSON) with @sigstore/verify against `publicKeyPem`,
 * whatever key its hint names (the signature decides), no log or timestamp needed. Throws when it
 * does not verify.
 */
export function verifyKeyBundle(bundleJson: unknown, publicKeyPem: string): void {
  const trust = toTrustMaterial(TrustedRoot.fromJSON(EMPTY_TRUSTED_ROOT), () => ({
    publicKey: createPublicKey(publicKeyPem),
    validFor: () => true
  }))
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 }).verify(
    toSignedEntity(bundleFromJSON(bundleJson))
  )
}
