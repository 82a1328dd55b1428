// The rack's failures, and what its answers mean for the client's retry policy (Convox answers 500
// for permanent errors and 403 also while an app updates: pkg/api/validation.go, stdapi router.go
// writeErrorResponse). The exchange is core/http.ts; the TLS trust is tls.ts.
import { RemoteError, UserError } from '../errors.js'

/**
 * What a failed exchange tells about the rack's state:
 * - `unreached`: nothing reached the rack (refused connection, DNS): any call may be sent again;
 * - `ambiguous`: sent, outcome unknown (timeout, reset, 502/503/504, a 500 that does not say it
 *   refused): a read may be sent again, a create only after looking up what exists;
 * - `refused`: the rack answered that it did not do it (4xx, a 500 naming the reason): final;
 * - `later`: refused for now (409, 429): may succeed when sent again.
 */
export type RackOutcome = 'unreached' | 'ambiguous' | 'refused' | 'later'

/**
 * A rack call that failed, as one line: `rack <host>: <METHOD> <path>: <status> <message>`. A
 * remote failure (exit code 3), but for 401 and TLS (RackAuthError, RackTlsError: the user's to fix).
 */
export class RackError extends RemoteError {
  constructor(
    message: string,
    /** HTTP status, 0 when there was no answer. */
    readonly status: number,
    /** The rack's own message (`{"error": ...}` or the body), or the transport failure. */
    readonly rackMessage: string,
    readonly outcome: RackOutcome,
    /** No answer within the call's bound. */
    readonly timedOut = false
  ) {
    super(message)
    this.name = 'RackError'
  }

  /** 403 `app is currently updating` (ReleasePromoteValidate): wait for the app, then again. */
  get appUpdating(): boolean {
    return this.status === 403 && /currently updating|is updating/i.test(this.rackMessage)
  }
}

/** 401: the credentials are wrong; a mistake the user fixes. */
export class RackAuthError extends UserError {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message)
    this.name = 'RackAuthError'
  }
}

/** The rack's certificate is not trusted: fixed with rack-ca or rack-insecure. Never retried. */
export class RackTlsError extends UserError {
  constructor(message: string) {
    super(message)
    this.name = 'RackTlsError'
  }
}

/**
 * Bodies of 500s that say the rack refused the call (nothing was done): Kubernetes NotFound
 * (`builds.convox.com "bx" not found`), promote's `required env: X`, validation and parsing
 * errors. Any other 500 may come after the rack acted.
 */
const REFUSED_500 =
  /\bnot found\b|required env|\binvalid\b|\bcan ?not\b|\bmust\b|\bparsing\b|strconv\.|\bno such\b|\bunsupported\b|\bnot allowed\b|\bforbidden\b|\bunauthorized\b/i

/** How a rack answer with status >= 400 reads. */
export function answerOutcome(status: number, message: string): RackOutcome {
  if (status === 409 || status === 429) return 'later'
  if (status < 500) return 'refused'
  if (status === 500) return REFUSED_500.test(message) ? 'refused' : 'ambiguous'
  if (status === 501) return 'refused'
  return 'ambiguous'
}
