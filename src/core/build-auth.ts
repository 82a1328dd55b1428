// Build args in the image history: BuildKit writes the build args in scope of every RUN into it
// (`RUN |1 BUILD_AUTH=... /bin/sh -c ...`, dockerfile2llb runCommandString), so the registry
// passwords BUILD_AUTH holds must not be in scope in the stages the image carries; values from the
// app's env are, as on the rack, but it is said.
import {
  dispatchedInstructions,
  imageStages,
  type ArgDeclaration,
  type DockerfileModel
} from './dockerfile.js'

export const BUILD_AUTH = 'BUILD_AUTH'

/** Build args whose values are secret: off command lines, out of reuse keys. */
export const SECRET_ARGS = [BUILD_AUTH]

/**
 * Where each of `names` would reach the image: its ARG in a stage the image carries (the final
 * stage and those it is FROM, which hand their ARGs down), followed by a RUN while in scope or an
 * instruction naming it. Stages only copied from (COPY --from) are fine: their history stays
 * behind.
 */
export function argsInHistory(
  model: DockerfileModel,
  target: string | null,
  buildArgs: Record<string, string>,
  names: string[]
): Map<string, ArgDeclaration> {
  const found = new Map<string, ArgDeclaration>()
  // convert.go init: a stage starts with the build args of the stage it is FROM.
  const scope = new Map<string, ArgDeclaration>()
  for (const stage of imageStages(model, target, buildArgs).reverse()) {
    for (const i of dispatchedInstructions(model, stage, buildArgs)) {
      for (const a of i.args ?? []) if (names.includes(a.name)) scope.set(a.name, a)
      for (const [name, declared] of scope) {
        if (found.has(name) || i.line <= declared.line) continue
        if (i.keyword === 'RUN' || new RegExp(`\\b${escapeRegExp(name)}\\b`).test(i.text)) {
          found.set(name, declared)
        }
      }
    }
  }
  return found
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Where BUILD_AUTH would reach the image (see argsInHistory). */
export function buildAuthInHistory(
  model: DockerfileModel,
  target: string | null,
  buildArgs: Record<string, string>
): ArgDeclaration | undefined {
  return argsInHistory(model, target, buildArgs, [BUILD_AUTH]).get(BUILD_AUTH)
}

/** How to fix a Dockerfile that would record BUILD_AUTH in its image. */
export const BUILD_AUTH_FIX =
  'use it only in a build stage the image copies from (COPY --from), or read it as a secret: ' +
  'RUN --mount=type=secret,id=BUILD_AUTH,env=BUILD_AUTH ... (always available when BUILD_AUTH ' +
  'is in build-args); build-auth-in-image: true keeps the rack behaviour'
