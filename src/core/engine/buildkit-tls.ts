// buildctl's mutual TLS with buildkit-host. buildctl takes file paths only (--tlscacert, --tlscert,
// --tlskey): PEM text given as an input is written to a 0600 file in a 0700 directory of the run's
// temp dir, removed at the end; a file path is passed as it is. No content is ever on an argv.
import { X509Certificate } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { UserError } from '../errors.js'
import type { BuildkitTlsSettings } from '../settings.js'

export interface BuildkitTlsFiles {
  /** buildctl's global flags (before its command): file paths and the server name. */
  flags: string[]
  /** Removes the files written. */
  cleanup(): Promise<void>
}

/** Whether a value is PEM text rather than a file path. */
export function isPem(value: string): boolean {
  return value.includes('-----BEGIN ')
}

const FILES = [
  { field: 'ca', input: 'buildkit-tls-ca', flag: '--tlscacert', file: 'ca.pem' },
  { field: 'cert', input: 'buildkit-tls-cert', flag: '--tlscert', file: 'cert.pem' },
  { field: 'key', input: 'buildkit-tls-key', flag: '--tlskey', file: 'key.pem' }
] as const

/**
 * The client certificate's dates, checked here: a daemon refusing an expired certificate under
 * TLS 1.3 is seen by buildctl as `expired certificate` or as a bare `broken pipe`, by timing.
 */
export function checkClientCertificate(pem: string, addr: string, now = new Date()): void {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(pem)
  } catch (e) {
    throw new UserError({
      input: 'buildkit-tls-cert',
      message: `is not a PEM certificate: ${(e as Error).message}`
    })
  }
  const from = new Date(cert.validFrom)
  const to = new Date(cert.validTo)
  const why =
    now > to
      ? `expired on ${to.toISOString()}`
      : now < from
        ? `is not valid before ${from.toISOString()}`
        : ''
  if (why) {
    throw new UserError({
      input: 'buildkit-host',
      message: `BuildKit at ${addr} would refuse the client certificate (buildkit-tls-cert): it ${why}`
    })
  }
}

/** Writes the PEM texts of `tls` under `tempDir` and returns buildctl's TLS flags for `addr`. */
export async function writeBuildkitTls(
  settings: BuildkitTlsSettings | undefined,
  tempDir: string,
  addr = ''
): Promise<BuildkitTlsFiles> {
  const tls = settings ?? { ca: '', cert: '', key: '', serverName: '' }
  const flags: string[] = []
  if (tls.serverName) flags.push('--tlsservername', tls.serverName)
  const given = FILES.filter(f => tls[f.field] !== '')
  if (given.length === 0) return { flags, cleanup: async () => undefined }
  let dir: string | undefined
  const cleanup = async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  }
  try {
    for (const f of given) {
      const value = tls[f.field]
      const text = isPem(value) ? value : await readText(value, f.input)
      if (f.field === 'cert') checkClientCertificate(text, addr)
      if (isPem(value)) {
        if (!dir) {
          await mkdir(tempDir, { recursive: true })
          dir = await mkdtemp(path.join(tempDir, 'buildkit-tls-'))
          await chmod(dir, 0o700)
        }
        const file = path.join(dir, f.file)
        await writeFile(file, value.endsWith('\n') ? value : `${value}\n`, { mode: 0o600 })
        flags.push(f.flag, file)
        continue
      }
      flags.push(f.flag, path.resolve(value))
    }
  } catch (e) {
    await cleanup()
    throw e
  }
  return { flags, cleanup }
}

async function readText(file: string, input: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch {
    // Not the value in the message: it may be a mistyped PEM text.
    throw new UserError({
      input,
      message: 'is neither PEM text (-----BEGIN ...) nor a file that can be read'
    })
  }
}
