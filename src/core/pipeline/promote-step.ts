// The promote of a release, in its own log group: the last step of finish and of an import.
import type { Logger } from '../log.js'
import { promoteRelease, type RackClient } from '../rack/index.js'

export async function promote(
  rack: RackClient,
  app: string,
  releaseId: string,
  logger: Logger
): Promise<void> {
  await logger.group(`Promote ${releaseId}`, () => promoteRelease(rack, { app, releaseId, logger }))
}
