// The `convox builds import` tarball: gzip'd tar of build.json and one OCI archive per service
// (`<service>.<BUILD_ID>.tar`), flat at the top level as the rack writes and reads it.
import { buffer } from 'node:stream/consumers'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip, constants as zlib } from 'node:zlib'
import * as tar from 'tar-stream'
import type { RegistryClient } from '../registry/client.js'
import type { ImageReference } from '../registry/reference.js'
import { throwIfCancelled } from '../interrupt.js'
import { checkTargetFile, writeAtomically } from '../target-file.js'
import {
  packInto,
  repackOciArchive,
  writeArchiveFromRegistry,
  type ArchiveResult
} from './oci-archive.js'
import { serializeRecord, type BuildRecord } from './record.js'

/** Where a service's image comes from: the registry it was pushed to, or BuildKit's OCI tar. */
export type ExportSource =
  | { service: string; client: RegistryClient; image: ImageReference }
  | { service: string; ociTar: string }

export interface ExportOptions {
  /** Stops the export (SIGINT/SIGTERM): the partial file is removed. */
  signal?: AbortSignal
  /**
   * The run's platforms: only these are archived from a multi-platform image (image services
   * not pushed); empty or absent: every platform it has.
   */
  platforms?: string[]
  /** Directory for the per-service archives while the tarball is written. Default: os.tmpdir(). */
  tempDir?: string
  /** gzip level; default 1: layers are compressed already, so more effort buys next to nothing. */
  gzipLevel?: number
}

export interface ExportResult {
  path: string
  archives: Record<string, ArchiveResult>
}

/** Archive name of a service in the export. */
export function archiveName(service: string, buildId: string): string {
  return `${service}.${buildId}.tar`
}

/**
 * Writes the export tarball: each service's archive to a temporary file first (streamed), then
 * build.json and the archives streamed into the .tgz, under a temporary name beside the target
 * that is renamed into place when complete. Returns the absolute path.
 */
export async function writeExport(
  file: string,
  record: BuildRecord,
  services: ExportSource[],
  options: ExportOptions = {}
): Promise<ExportResult> {
  const target = path.resolve(file)
  const names = new Set<string>()
  for (const s of services) {
    if (!/^[a-z0-9][a-z0-9-]*$/i.test(s.service))
      throw new Error(`invalid service name "${s.service}"`)
    if (names.has(s.service)) throw new Error(`service ${s.service} given twice`)
    names.add(s.service)
  }
  await checkTargetFile(target, 'export')
  const base = options.tempDir ?? tmpdir()
  await mkdir(base, { recursive: true })
  const temp = await mkdtemp(path.join(base, 'convox-export-'))
  try {
    const archives: Record<string, ArchiveResult> = {}
    const files: string[] = []
    for (const source of services) {
      throwIfCancelled(options.signal)
      const name = archiveName(source.service, record.id)
      const out = path.join(temp, name)
      const tag = name.slice(0, -'.tar'.length)
      const archiveOptions = {
        refName: tag,
        platforms: options.platforms,
        signal: options.signal
      }
      archives[source.service] =
        'ociTar' in source
          ? await repackOciArchive(source.ociTar, out, archiveOptions)
          : await writeArchiveFromRegistry(source.client, source.image, out, archiveOptions)
      files.push(out)
    }
    await writeAtomically(target, 'export', partial => packTarball(partial, record, files, options))
    return { path: target, archives }
  } finally {
    await rm(temp, { recursive: true, force: true })
  }
}

/** build.json, then each archive, into a gzip'd tar at `file`. */
async function packTarball(
  file: string,
  record: BuildRecord,
  files: string[],
  options: ExportOptions
): Promise<void> {
  const pack = tar.pack()
  const sink = [
    createGzip({ level: options.gzipLevel ?? zlib.Z_BEST_SPEED }),
    createWriteStream(file, { mode: 0o644 })
  ]
  await packInto(pack, sink, options.signal, async () => {
    await addEntry(pack, 'build.json', Buffer.from(serializeRecord(record)), 0o600)
    for (const f of files) {
      const { size } = await stat(f)
      await addEntry(pack, path.basename(f), createReadStream(f), 0o644, size)
    }
  })
}

/** One tar entry from bytes or a stream; rejects (never throws later) on any error of either side. */
function addEntry(
  pack: tar.Pack,
  name: string,
  data: Buffer | Readable,
  mode: number,
  size = Buffer.isBuffer(data) ? data.length : 0
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (Buffer.isBuffer(data)) {
      pack.entry({ name, size, mode }, data, e => (e ? reject(e) : resolve()))
      return
    }
    const entry = pack.entry({ name, size, mode }, e => (e ? reject(e) : resolve()))
    pipeline(data, entry as unknown as NodeJS.WritableStream).catch(reject)
  })
}

export interface ExportContents {
  record: BuildRecord
  /** Every regular file in the tarball, in order. */
  entries: { name: string; size: number }[]
  /** Service name (file name up to the first dot, as the rack reads it) → extracted archive path. */
  archives: Record<string, string>
}

/**
 * Reads an export tarball: build.json parsed, the entry list, and (with `extractTo`) each
 * `.tar` archive written to that directory.
 */
export async function readExport(
  file: string,
  options: { extractTo?: string } = {}
): Promise<ExportContents> {
  const extract = tar.extract()
  const feeding = pipeline(
    createReadStream(file),
    createGunzip(),
    extract as unknown as NodeJS.WritableStream
  ).catch(e => extract.destroy(e as Error))
  let record: BuildRecord | undefined
  const entries: { name: string; size: number }[] = []
  const archives: Record<string, string> = {}
  if (options.extractTo) await mkdir(options.extractTo, { recursive: true })
  for await (const entry of extract) {
    const { name, size = 0, type } = entry.header
    if (type === 'file') {
      entries.push({ name, size })
      if (name === 'build.json') {
        record = JSON.parse((await buffer(entry)).toString('utf8')) as BuildRecord
      } else if (name.endsWith('.tar') && options.extractTo && !name.includes('/')) {
        const out = path.join(options.extractTo, name)
        await pipeline(entry as unknown as Readable, createWriteStream(out))
        archives[name.split('.')[0] as string] = out
      }
    }
    entry.resume()
  }
  await feeding
  if (!record) throw new Error(`${file}: no build.json in it`)
  return { record, entries, archives }
}
