// cosign, the independent verifier of what we sign (built into the rig by scripts/rig/tools.sh),
// and the keys the signing tests sign with.
import { generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
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
