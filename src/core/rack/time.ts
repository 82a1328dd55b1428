// The rack's time encodings (convox/stdsdk options.go, convox/stdapi options.go): params use the
// sortable layout `20060102.150405.000000000` in UTC; JSON bodies use Go's RFC 3339 with nanoseconds
// (export/record.ts formatGoTime).

/** `20060102.150405.000000000` (UTC), the layout of time params. */
export function formatRackTime(date: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0')
  return (
    `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}.` +
    `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}.` +
    `${p(date.getUTCMilliseconds(), 3)}000000`
  )
}

const SORTABLE = /^(\d{4})(\d{2})(\d{2})\.(\d{2})(\d{2})(\d{2})\.(\d{9})$/

/** Parses the sortable layout; undefined when the text is not in it. */
export function parseRackTime(text: string): Date | undefined {
  const m = SORTABLE.exec(text)
  if (!m) return undefined
  const [y, mo, d, h, mi, s, frac] = m.slice(1).map(Number) as number[]
  const date = new Date(
    Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, Math.floor((frac as number) / 1_000_000))
  )
  // Date.UTC rolls over invalid fields (month 13); the rack rejects them.
  return formatRackTime(date).slice(0, 15) === text.slice(0, 15) ? date : undefined
}

/** Either encoding to a Date; undefined for the zero time or text in neither. */
export function parseAnyTime(text: string | undefined): Date | undefined {
  if (!text || text.startsWith('0001-01-01')) return undefined
  const sortable = parseRackTime(text)
  if (sortable) return sortable
  const d = new Date(text)
  return Number.isNaN(d.getTime()) ? undefined : d
}
