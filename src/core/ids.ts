import { randomInt } from 'node:crypto'

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'

/** `prefix` + `length` letters A-Z; crypto.randomInt rejects out-of-range draws, so no modulo bias. */
export function randomId(prefix: string, length = 10): string {
  let id = prefix
  for (let i = 0; i < length; i++) id += LETTERS[randomInt(0, LETTERS.length)]
  return id
}

/** A build id as the rack makes them: `B` + 10 letters. */
export function newBuildId(): string {
  return randomId('B')
}

/** A release id as the rack makes them: `R` + 10 letters. */
export function newReleaseId(): string {
  return randomId('R')
}

export const BUILD_ID_PATTERN = /^B[A-Z]{10}$/
export const RELEASE_ID_PATTERN = /^R[A-Z]{10}$/
