// BUILD_AUTH in a Dockerfile: BuildKit writes the build args in scope of every RUN into the image
// history (`RUN |1 BUILD_AUTH=... /bin/sh -c ...`, dockerfile2llb runCommandString), so the
// registry passwords it holds must not be in scope in the stages the image carries.
import { imageStages, type ArgDeclaration, type DockerfileModel } from './dockerfile.js'

export const BUILD_AUTH = 'BUILD_AUTH'

/** Build args whose values are secret: off command lines, out of reuse keys. */
export const SECRET_ARGS = [BUILD_AUTH]

/**
 * Where BUILD_AUTH would reach the image: its ARG in a stage the image carries (the final stage
 * and those it is FROM), followed in that stage by a RUN or an instruction naming it.
 * Stages only copied from (COPY --from) are fine: their history stays behind.
 */
export function buildAuthInHistory(
  model: DockerfileModel,
  target: string | null,
  buildArgs: Record<string, string>
): ArgDeclaration | undefined {
  for (const stage of imageStages(model, target, buildArgs)) {
    const declared = stage.args.find(a => a.name === BUILD_AUTH)
    if (!declared) continue
    const after = stage.instructions.filter(i => i.line > declared.line)
    if (after.some(i => i.keyword === 'RUN' || /\bBUILD_AUTH\b/.test(i.text))) return declared
  }
  return undefined
}

/** How to fix a Dockerfile that would record BUILD_AUTH in its image. */
export const BUILD_AUTH_FIX =
  'use it only in a build stage the image copies from (COPY --from), or read it as a secret: ' +
  'RUN --mount=type=secret,id=BUILD_AUTH,env=BUILD_AUTH ... (always available when BUILD_AUTH ' +
  'is in build-args); build-auth-in-image: true keeps the rack behaviour'
