// What an OIDC token (a JWT) says of itself, read without checking its signature: only to decide
// what to ask for (its expiry) or what not to do with it; whoever it is sent to checks it.

/** The token's claims; none when it is not a readable JWT. */
export function jwtClaims(token: string): Record<string, unknown> {
  try {
    const claims: unknown = JSON.parse(
      Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')
    )
    return claims !== null && typeof claims === 'object' ? (claims as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
