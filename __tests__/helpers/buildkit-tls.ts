// The rig's two buildkitd that require mutual TLS (scripts/rig/buildkit-tls.sh), started on demand.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseEnvFile, REPO_ROOT } from './rig.js'

export interface TlsDaemons {
  /** tcp:// address of the daemon advertising linux/amd64. */
  amd64: string
  /** tcp:// address of the daemon advertising linux/arm64. */
  arm64: string
  /** Certificates: ca, client, other-ca, other-client, expired-client (`.pem`, `.key`). */
  dir: string
  /** The name in the daemons' certificate besides 127.0.0.1. */
  serverName: string
}

/** Starts the daemons when they are not running (quick when they are) and says where they are. */
export async function tlsDaemons(): Promise<TlsDaemons> {
  await promisify(execFile)('bash', [join(REPO_ROOT, 'scripts/rig/buildkit-tls.sh')])
  const vars = parseEnvFile(await readFile(join(REPO_ROOT, '.rig/tls/env'), 'utf8'))
  return {
    amd64: vars.BUILDKIT_TLS_AMD64 as string,
    arm64: vars.BUILDKIT_TLS_ARM64 as string,
    dir: vars.BUILDKIT_TLS_DIR as string,
    serverName: 'buildkitd.rig'
  }
}
