// ARG values from the app's env, as the rack gives them: pkg/build/buildkit.go Build makes `env`
// = common.AppEnvironment overlaid with buildEnvs, and buildArgs passes `--opt build-arg:K=V` for
// every ARG K in that env; BuildKit then reads those the build's target consumes
// (frontend/dockerfile/dockerfile2llb/convert.go: buildMetaArgs for the global ARGs, dispatchArg
// in the stages allReachableStages finds, ONBUILD triggers of a stage base run in the stage built
// on it: resolveStages / initOnBuildTriggers).
import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { consumedArgs, parseDockerfile } from '../../src/core/dockerfile.js'
import type { Logger } from '../../src/core/log.js'
import { captureLogger } from '../helpers/logger.js'
import { createPlan, planLines, planOutput, type Plan } from '../../src/core/plan.js'
import { Redactor } from '../../src/core/secrets.js'
import { readSettings } from '../../src/core/settings.js'
import { renderSummary } from '../../src/core/summary.js'

/** A logger recording warnings as `line: message`, info lines and masked values. */
function recorder(): { logger: Logger; warnings: string[]; masked: string[]; lines: string[] } {
  const cap = captureLogger()
  return {
    logger: cap.logger,
    masked: cap.masked,
    lines: cap.lines,
    get warnings() {
      return cap.warnings.map(w => (w.where?.line ? `${w.where.line}: ${w.message}` : w.message))
    }
  }
}

function app(dockerfile: string, manifest = 'services:\n  web:\n    build: .\n'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'app-env-'))
  fs.writeFileSync(path.join(dir, 'convox.yml'), manifest)
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile)
  return dir
}

async function plan(
  dir: string,
  o: {
    inputs?: Record<string, string>
    appEnv?: Record<string, string>
    env?: NodeJS.ProcessEnv
    logger?: ReturnType<typeof recorder>
  } = {}
): Promise<Plan> {
  const inputs: Record<string, string> = { app: 'myapp', ...o.inputs }
  return createPlan(
    readSettings(name => inputs[name] ?? '', { env: {}, cwd: dir }),
    { env: o.env ?? {}, appEnv: o.appEnv, gitSha: 'a'.repeat(40), description: 'd', buildId: 'BX' },
    (o.logger ?? recorder()).logger
  )
}

const consumed = (text: string, target: string | null = null): string[] =>
  consumedArgs(parseDockerfile(text), target).sort()

describe('the ARGs BuildKit consumes for a target (convert.go)', () => {
  it.each([
    [
      'a global ARG a FROM names, and the globals its default takes (buildMetaArgs deps)',
      'ARG V=1\nARG TAG=${V}-alpine\nARG UNUSED\nFROM a:${TAG}\n',
      null,
      ['TAG', 'V']
    ],
    [
      // Checked with the rig's buildkitd: without DEV_BASE, "base name (${DEV_BASE}) should not be blank".
      "a global ARG an unreached stage's FROM names (buildDispatchStates expands every FROM)",
      'ARG DEV_BASE\nFROM ${DEV_BASE} AS dev\nFROM b\n',
      null,
      ['DEV_BASE']
    ],
    ['a global ARG a --platform names', 'ARG P\nFROM --platform=$P a\n', null, ['P']],
    ['a global ARG a reached stage declares again', 'ARG G=1\nFROM a\nARG G\n', null, ['G']],
    ['not a global ARG nothing names', 'ARG G\nARG H=1\nFROM a\n', null, []],
    ['the final stage', 'FROM a AS b\nARG B\nFROM c\nARG F\n', null, ['F']],
    [
      'a build stage the final stage copies from (COPY --from name)',
      'FROM a AS build\nARG B\nFROM c\nCOPY --from=build /x /x\nARG F\n',
      null,
      ['B', 'F']
    ],
    ['COPY --from a stage index', 'FROM a\nARG B\nFROM c\nCOPY --from=0 /x /x\n', null, ['B']],
    [
      'RUN --mount from= a stage',
      'FROM a AS deps\nARG D\nFROM c\nRUN --mount=type=bind,from=deps,target=/d true\n',
      null,
      ['D']
    ],
    [
      'the stage FROM another, transitively',
      'FROM a AS base\nARG B\nFROM base AS mid\nARG M\nFROM mid\nARG F\n',
      null,
      ['B', 'F', 'M']
    ],
    ['not a stage no one reaches', 'FROM a AS unused\nARG U\nFROM c\nARG F\n', null, ['F']],
    [
      'the development target, not the stages after it',
      'FROM a AS development\nARG D\nFROM a AS production\nARG P\n',
      'development',
      ['D']
    ],
    [
      'ONBUILD ARG runs in the stage built on it',
      'FROM a AS base\nONBUILD ARG O\nFROM base\nARG F\n',
      null,
      ['F', 'O']
    ],
    ['ONBUILD ARG does not run in its own stage', 'FROM a\nONBUILD ARG O\nARG F\n', null, ['F']],
    [
      'ONBUILD COPY --from reaches a stage from the stage built on it',
      'FROM a AS assets\nARG A\nFROM a AS base\nONBUILD COPY --from=assets /x /x\nFROM base\n',
      null,
      ['A']
    ]
  ])('%s', (_n, text, target, names) => {
    expect(consumed(text, target)).toEqual(names)
  })
})

describe('createPlan with the app env', () => {
  const dockerfile =
    'FROM busybox AS build\nARG IN_BUILD\nRUN echo "$IN_BUILD" > /b\n' +
    'FROM busybox AS unused\nARG IN_UNUSED\n' +
    'FROM busybox\nARG IN_FINAL\nARG OVERRIDDEN\nARG BUILD_APP\nCOPY --from=build /b /b\n'
  const appEnv = {
    IN_BUILD: 'value-build-1',
    IN_FINAL: 'value-final-2',
    IN_UNUSED: 'value-unused-3',
    OVERRIDDEN: 'from-env-4',
    BUILD_APP: 'not-the-app',
    NOT_DECLARED: 'value-not-declared-5'
  }

  it('gives every consumed ARG its value, build args overriding, managed args left alone', async () => {
    const logger = recorder()
    const p = await plan(app(dockerfile), {
      appEnv,
      inputs: { 'build-args': 'OVERRIDDEN=from-build-args' },
      logger
    })
    expect(p.builds[0]?.argValues).toEqual({
      IN_BUILD: 'value-build-1',
      IN_FINAL: 'value-final-2',
      OVERRIDDEN: 'from-build-args'
    })
    expect(p.builds[0]?.appEnvArgs).toEqual(['IN_BUILD', 'IN_FINAL'])
    // Values from the app's env are secrets; the build arg's is not.
    expect(logger.masked.sort()).toEqual(['value-build-1', 'value-final-2'])
    // Names are reported, never values.
    const out = JSON.stringify(planOutput(p))
    expect(out).toContain('"args":["IN_BUILD","IN_FINAL","OVERRIDDEN"]')
    expect(out).toContain('"appEnvArgs":["IN_BUILD","IN_FINAL"]')
    for (const v of Object.values(appEnv)) expect(out).not.toContain(v)
    expect(planLines(p)[1]).toBe(
      "build 1: web from Dockerfile, args IN_BUILD IN_FINAL OVERRIDDEN (from the app's env: IN_BUILD IN_FINAL)"
    )
  })

  it('keeps values like true or 3000 off the masks (they would garble JSON and digests)', async () => {
    const logger = recorder()
    const dir = app('FROM busybox\nARG DEBUG\nARG PORT\nARG KEY\n')
    const p = await plan(dir, {
      appEnv: { DEBUG: 'false', PORT: '3000', KEY: 'k-secret-value' },
      logger
    })
    expect(p.builds[0]?.appEnvArgs).toEqual(['DEBUG', 'KEY', 'PORT'])
    expect(p.builds[0]?.secretArgs).toEqual(['KEY'])
    expect(logger.masked).toEqual(['k-secret-value'])
  })

  it('app-env-args: false passes build args only', async () => {
    const p = await plan(app(dockerfile), { appEnv, inputs: { 'app-env-args': 'false' } })
    expect(p.builds[0]?.argValues).toEqual({})
    expect(planOutput(p).builds[0]).not.toHaveProperty('appEnvArgs')
  })

  it('development builds take the values their target consumes', async () => {
    const dir = app('FROM busybox AS development\nARG DEV\nFROM busybox\nARG PROD\n')
    const p = await plan(dir, {
      appEnv: { DEV: 'd-value', PROD: 'p-value' },
      inputs: { development: 'true' }
    })
    expect([p.builds[0]?.target, p.builds[0]?.argValues]).toEqual([
      'development',
      { DEV: 'd-value' }
    ])
  })

  it('warns once per name whose value reaches the image history, as on the rack', async () => {
    const logger = recorder()
    const dir = app(
      'FROM busybox AS build\nARG ONLY_BUILD\nRUN echo $ONLY_BUILD\n' +
        'FROM busybox\nARG IN_HISTORY\nRUN echo hi\nCOPY --from=build /etc/hostname /x\n',
      'services:\n  web:\n    build: .\n  worker:\n    build: .\n'
    )
    await plan(dir, { appEnv: { ONLY_BUILD: 'v1', IN_HISTORY: 'v2' }, logger })
    const history = logger.warnings.filter(w => w.includes('image history'))
    expect(history).toEqual([
      "5: IN_HISTORY from the app's env is recorded in the image history of web, as on the rack (BuildKit writes the build args of each RUN into it): anyone who can pull the image can read its value; read it as a secret (RUN --mount=type=secret) or in a stage the image only copies from"
    ])
  })

  it('an ARG declared in a stage the image is built FROM is in scope of its RUNs', async () => {
    const logger = recorder()
    const dir = app('FROM busybox AS base\nARG FROM_BASE\nFROM base\nRUN true\n')
    await plan(dir, { appEnv: { FROM_BASE: 'v' }, logger })
    expect(logger.warnings.filter(w => w.includes('image history'))).toHaveLength(1)
  })

  it('without the rack, names once the ARGs no source fills', async () => {
    const dir = app('ARG G=1\nFROM busybox\nARG NEED_A\nARG NEED_B\nARG GIVEN\nARG DEFAULTED=x\n')
    const p = await plan(dir, { inputs: { 'build-args': 'GIVEN=1' } })
    expect(p.appEnvNote).toBe(
      "the app's env was not read (no rack): ARGs take values from build-args only; none fills NEED_A, NEED_B (on the rack the app's env would give them: pass them with build-args)"
    )
    expect((await plan(dir, { appEnv: {} })).appEnvNote).toBeUndefined()
  })

  it('does not pass a name the build engine reads from its own environment', async () => {
    const logger = recorder()
    const dir = app('FROM busybox\nARG HTTPS_PROXY\nARG PATH\nARG OK\n')
    const p = await plan(dir, {
      appEnv: { HTTPS_PROXY: 'http://proxy', PATH: '/x', OK: 'fine' },
      logger
    })
    expect(p.builds[0]?.argValues).toEqual({ OK: 'fine' })
    expect(logger.warnings.filter(w => w.includes('reads'))).toHaveLength(2)
  })

  it('a build arg declared only in a stage no target reaches is said so', async () => {
    const logger = recorder()
    const dir = app('FROM busybox AS unused\nARG X\nFROM busybox\n')
    await plan(dir, { inputs: { 'build-args': 'X=1' }, logger })
    expect(logger.warnings).toContain(
      "1: build arg X is declared (ARG X) where no build's target reads it (a stage it does not reach, or a global ARG no FROM names): it is not passed"
    )
  })
})

describe('the summary', () => {
  it('says which build-arg names came from the app env, never their values', () => {
    const text = renderSummary({
      dryRun: true,
      secrets: new Redactor(),
      result: {
        stage: 'all',
        plan: {
          app: 'myapp',
          buildId: 'BX',
          manifest: 'convox.yml',
          gitSha: '',
          description: '',
          development: false,
          services: [],
          builds: []
        },
        buildId: 'BX',
        releaseId: '',
        images: {},
        digests: {},
        services: [],
        exportPath: '',
        warnings: [],
        buildArgNames: ['REACT_APP_API_URL', 'VERSION'],
        appEnvArgNames: ['REACT_APP_API_URL'],
        matrix: { include: [] },
        platforms: '',
        durationMs: 0
      }
    })
    expect(text).toContain(
      "**Build args** (values not shown): `REACT_APP_API_URL=***` `VERSION=***` (from the app's env: `REACT_APP_API_URL`)"
    )
  })
})
