// The UserError a call throws, for tests of bad user input.
import { UserError } from '../../src/core/errors.js'

/** The UserError `fn` throws; rethrows any other error and fails if nothing is thrown. */
export function thrown(fn: () => unknown): UserError {
  try {
    fn()
  } catch (e) {
    if (e instanceof UserError) return e
    throw e
  }
  throw new Error('expected a UserError')
}
