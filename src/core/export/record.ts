import { UserError } from '../errors.js'
import { BUILD_ID_PATTERN, RELEASE_ID_PATTERN } from '../ids.js'
import type { Redactor } from '../secrets.js'
import { withoutCredentials } from '../credential-url.js'

export const BUILD_STATUSES = ['created', 'running', 'complete', 'failed'] as const
export type BuildStatus = (typeof BUILD_STATUSES)[number]

/**
 * The build as the rack stores and exports it (convox/convox pkg/structs.Build): these keys, in
 * this order, every one always present (no omitempty), times as Go marshals time.Time.
 */
export interface BuildRecord {
  id: string
  app: string
  description: string
  entrypoint: string
  'git-sha': string
  logs: string
  manifest: string
  process: string
  release: string
  reason: string
  repository: string
  status: BuildStatus
  started: string
  ended: string
}

/** A point in time with nanoseconds beyond the Date's milliseconds (0-999999). */
export interface PreciseTime {
  date: Date
  extraNanos?: number
}

export interface BuildRecordInput {
  id: string
  app: string
  description?: string
  /** The first service image's entrypoint, shell-joined (see shellJoin). */
  entrypoint?: string
  gitSha?: string
  logs?: string
  /** The raw, uninterpolated manifest text. */
  manifest?: string
  process?: string
  release?: string
  reason?: string
  /** The image repository; any credentials in it are removed. */
  repository?: string
  status?: BuildStatus
  started: Date | PreciseTime
  /** Missing: Go's zero time, as for a build that has not ended. */
  ended?: Date | PreciseTime
  /** Values that must not appear anywhere in the record (passwords, build-arg values). */
  secrets?: Redactor
}

/** Go's zero time.Time in JSON: a build that has not started or ended. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z'

/** Builds the record, checking ids and that no secret made its way into it. */
export function buildRecord(input: BuildRecordInput): BuildRecord {
  if (!BUILD_ID_PATTERN.test(input.id)) throw new Error(`invalid build id "${input.id}"`)
  const release = input.release ?? ''
  if (release !== '' && !RELEASE_ID_PATTERN.test(release)) {
    throw new Error(`invalid release id "${release}"`)
  }
  const status = input.status ?? 'complete'
  if (!BUILD_STATUSES.includes(status)) throw new Error(`invalid build status "${status}"`)
  const record: BuildRecord = {
    id: input.id,
    app: input.app,
    description: input.description ?? '',
    entrypoint: input.entrypoint ?? '',
    'git-sha': input.gitSha ?? '',
    logs: input.logs ?? '',
    manifest: input.manifest ?? '',
    process: input.process ?? '',
    release,
    reason: input.reason ?? '',
    repository: stripCredentials(input.repository ?? ''),
    status,
    started: formatGoTime(input.started),
    ended: input.ended ? formatGoTime(input.ended) : GO_ZERO_TIME
  }
  if (input.secrets?.leaks(serializeRecord(record))) {
    throw new UserError('the build record would contain a secret value; refusing to write it')
  }
  return record
}

/** The record as the rack writes build.json: indented JSON with Go's HTML-safe escapes. */
export function serializeRecord(record: BuildRecord): string {
  return goJsonEscape(JSON.stringify(record, null, 2))
}

/** Go's encoding/json escapes <, >, & and the JS line separators inside strings. */
function goJsonEscape(json: string): string {
  return json
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}

/**
 * RFC 3339 with nanoseconds, as Go's time.Time marshals (RFC3339Nano): UTC as `Z`, fraction with
 * trailing zeros dropped, none when zero.
 */
export function formatGoTime(time: Date | PreciseTime): string {
  const { date, extraNanos = 0 } = time instanceof Date ? { date: time } : time
  if (Number.isNaN(date.getTime())) throw new Error('invalid date')
  if (!Number.isInteger(extraNanos) || extraNanos < 0 || extraNanos > 999_999) {
    throw new Error(`invalid nanoseconds ${extraNanos}`)
  }
  const iso = date.toISOString() // YYYY-MM-DDTHH:MM:SS.mmmZ
  const nanos = date.getUTCMilliseconds() * 1_000_000 + extraNanos
  const fraction = nanos === 0 ? '' : `.${String(nanos).padStart(9, '0').replace(/0+$/, '')}`
  return `${iso.slice(0, 19)}${fraction}Z`
}

/** Now, with the sub-millisecond nanoseconds the clock gives. */
export function preciseNow(): PreciseTime {
  const ns = process.hrtime.bigint()
  const date = new Date()
  return { date, extraNanos: Number(ns % 1_000_000n) }
}

/**
 * `https://user:pass@host/path` or `user:pass@host/path` → without the credentials (a rack
 * writes its password unescaped: parseRepositoryUrl). Nothing of a text that is no repository.
 */
export function stripCredentials(repository: string): string {
  if (!repository) return ''
  try {
    return withoutCredentials(repository)
  } catch {
    return repository.includes('@') ? '' : repository
  }
}
