// The TLS trust of rack-ca / rack-insecure: which certificates the rack client accepts.
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { UserError } from '../errors.js'
import type { TlsConfig } from '../http.js'

export interface TlsOptions {
  /** Path of a PEM bundle (rack-ca): its CAs, or the rack's own certificate, are trusted. */
  ca?: string
  /** Do not verify the certificate at all (rack-insecure). */
  insecure?: boolean
}

export function tlsConfig(options: TlsOptions): TlsConfig {
  if (options.insecure) return { rejectUnauthorized: false, pinned: new Set() }
  if (!options.ca) return { rejectUnauthorized: true, pinned: new Set() }
  let text: string
  try {
    text = readFileSync(options.ca, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message
    throw new UserError({ input: 'rack-ca', message: `cannot read ${options.ca} (${code})` })
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  const pinned = new Set<string>()
  for (const pem of blocks) {
    try {
      pinned.add(new X509Certificate(pem).fingerprint256)
    } catch {
      throw new UserError({
        input: 'rack-ca',
        message: `${options.ca} holds a certificate that does not parse`
      })
    }
  }
  if (blocks.length === 0) {
    throw new UserError({ input: 'rack-ca', message: `${options.ca} holds no PEM certificate` })
  }
  return { ca: blocks, rejectUnauthorized: true, pinned }
}
