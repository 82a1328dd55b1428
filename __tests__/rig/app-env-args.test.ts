// ARG values from the app's env, as the rack gives them (pkg/build/buildkit.go Build: `env` =
// common.AppEnvironment overlaid with buildEnvs; buildArgs: `--opt build-arg:K=V` for each ARG K
// in env), against Convox's own rack API holding an app env set with its real
// POST /apps/{app}/releases. The pushed images must carry the values of exactly the ARGs BuildKit
// consumes for the build's target; the values must reach no argv, log, output, summary, rack log
// or build.json.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import tar from 'tar-stream'
import { resultOutputs } from '../../src/core/result-outputs.js'
import { RackClient } from '../../src/core/rack/index.js'
import { Redactor } from '../../src/core/secrets.js'
import { renderSummary } from '../../src/core/summary.js'
import {
  captureLogger,
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp,
  type PipelineRun
} from '../helpers/pipeline.js'
import { startRealRack, type RealRack } from '../helpers/realrack.js'
import { loadRig, registryCreds, skopeo } from '../helpers/rig.js'

const rig = loadRig()
const secret = (name: string): string => `${name}-${randomBytes(8).toString('hex')}`
const ENV = {
  IN_FINAL: secret('final'),
  IN_BUILD: secret('build-stage'),
  FROM_ONBUILD: secret('onbuild'),
  DEV_ONLY: secret('development'),
  IN_UNUSED: secret('unused-stage'),
  OVERRIDDEN: secret('overridden'),
  // convox.yml spells this one out too: build.json keeps the manifest as written.
  IN_MANIFEST: secret('production'),
  DOCKERFILE_NAME: 'Dockerfile.app'
}
const GIVEN = 'from-build-args'

// A final stage built FROM a stage with ONBUILD rules, copying from a build stage; a development
// target; a stage no target reaches. Each ARG writes its value into a file of the image.
const DOCKERFILE = `FROM busybox:1.36 AS build
ARG IN_BUILD
RUN echo "$IN_BUILD" > /in-build.txt

FROM busybox:1.36 AS unused
ARG IN_UNUSED
RUN echo "$IN_UNUSED" > /unused.txt

FROM busybox:1.36 AS base
ONBUILD ARG FROM_ONBUILD
ONBUILD RUN echo "$FROM_ONBUILD" > /onbuild.txt

FROM busybox:1.36 AS development
ARG DEV_ONLY
RUN echo "$DEV_ONLY" > /dev.txt

FROM base
ARG IN_FINAL
ARG OVERRIDDEN
COPY --from=build /in-build.txt /in-build.txt
RUN echo "$IN_FINAL" > /final.txt && echo "$OVERRIDDEN" > /overridden.txt
ARG IN_MANIFEST
`

let rr: RealRack
let app: ExampleApp
let wrapperDir: string
let argvLog: string

beforeAll(async () => {
  rr = await startRealRack(rig)
  // The app's env, as `convox env set` leaves it: the latest release's env.
  await rack().releaseCreate(rr.app, {
    env: Object.entries(ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')
  })
  app = await exampleApp(async dir => {
    await writeFile(
      path.join(dir, 'convox.yml'),
      'services:\n  web:\n    build:\n      path: .\n      manifest: ${DOCKERFILE_NAME}\n' +
        `    environment:\n      - IN_MANIFEST=${ENV.IN_MANIFEST}\n`
    )
    await writeFile(path.join(dir, 'Dockerfile.app'), DOCKERFILE)
  })
  // buildctl as the pipeline runs it, its argv written down first.
  wrapperDir = await mkdtemp(path.join(tmpdir(), 'argv-'))
  argvLog = path.join(wrapperDir, 'argv.log')
  await mkdir(path.join(wrapperDir, 'bin'))
  const wrapper = path.join(wrapperDir, 'bin', 'buildctl')
  await writeFile(
    wrapper,
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec '${path.join(rig.rigBin, 'buildctl')}' "$@"\n`
  )
  await chmod(wrapper, 0o755)
})
afterAll(async () => {
  await rr?.stop()
  if (app) await rm(app.dir, { recursive: true, force: true })
  if (wrapperDir) await rm(wrapperDir, { recursive: true, force: true })
})

function rack(): RackClient {
  return new RackClient({
    rackUrl: rr.rackUrl,
    secrets: new Redactor(),
    logger: captureLogger().logger
  })
}

function env(): NodeJS.ProcessEnv {
  const e = pipelineEnv(rig)
  return { ...e, PATH: `${path.join(wrapperDir, 'bin')}${path.delimiter}${e.PATH ?? ''}` }
}

function run(inputs: Record<string, string>): Promise<PipelineRun> {
  return runWithInputs(
    {
      ...rigInputs(rig),
      app: rr.app,
      'rack-url': rr.rackUrl,
      'build-args': `OVERRIDDEN=${GIVEN}`,
      ...inputs
    },
    { env: env(), cwd: app.dir }
  )
}

/** The files of a pushed image, by path, from its layers. */
async function imageFiles(ref: string, names: string[]): Promise<Record<string, string>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'image-'))
  try {
    const copy = await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      registryCreds(rig),
      `docker://${ref}`,
      `dir:${dir}`
    ])
    if (copy.exitCode !== 0) throw new Error(copy.stderr)
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as {
      layers: { digest: string }[]
    }
    const files: Record<string, string> = {}
    for (const layer of manifest.layers) {
      const extract = tar.extract()
      extract.on('entry', (header, stream, next) => {
        const name = '/' + header.name.replace(/^\.?\//, '')
        if (!names.includes(name)) {
          stream.on('end', next).resume()
          return
        }
        const chunks: Buffer[] = []
        stream.on('data', (c: unknown) => void chunks.push(c as Buffer))
        stream.on('end', () => {
          files[name] = Buffer.concat(chunks).toString('utf8').trim()
          next()
        })
      })
      await pipeline(
        createReadStream(path.join(dir, layer.digest.replace(/^sha256:/, ''))),
        createGunzip(),
        extract
      )
    }
    return files
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function imageHistory(ref: string): Promise<string> {
  const r = await skopeo([
    'inspect',
    '--config',
    '--tls-verify=false',
    '--creds',
    registryCreds(rig),
    `docker://${ref}`
  ])
  if (r.exitCode !== 0) throw new Error(r.stderr)
  return JSON.stringify((JSON.parse(r.stdout) as { history: unknown[] }).history)
}

/**
 * Every surface a run leaves but the image: its log, outputs, summary, buildctl's argv, and on the
 * rack the build and its stored log (the releases hold the app's env as the test set it).
 */
async function surfaces(r: PipelineRun): Promise<string> {
  const result = r.result!
  const builds = result.releaseId ? (await rr.state()).builds[result.buildId] : undefined
  const logs = builds
    ? (await rack().objectFetch(rr.app, `build/${result.buildId}/logs`)).toString()
    : ''
  return [
    r.log.text(),
    JSON.stringify(resultOutputs(result)),
    JSON.stringify(result),
    renderSummary({ result, dryRun: false, secrets: new Redactor() }),
    JSON.stringify(builds ?? {}),
    logs,
    await readFile(argvLog, 'utf8').catch(() => '')
  ].join('\n')
}

const secretValues = Object.entries(ENV)
  .filter(([k]) => k !== 'DOCKERFILE_NAME' && k !== 'IN_MANIFEST')
  .map(([, v]) => v)

describe("ARGs take their values from the app's env on the rack", () => {
  it('a dry run with rack credentials plans ARGs and ${VAR} as the rack would', async () => {
    const r = await run({ 'dry-run': 'true' })
    if (r.error) throw r.error
    const build = r.result!.plan.builds[0]!
    expect(build.dockerfile).toBe('Dockerfile.app')
    expect([build.args, build.appEnvArgs]).toEqual([
      ['FROM_ONBUILD', 'IN_BUILD', 'IN_FINAL', 'IN_MANIFEST', 'OVERRIDDEN'],
      ['FROM_ONBUILD', 'IN_BUILD', 'IN_FINAL', 'IN_MANIFEST']
    ])
    for (const v of secretValues) expect(await surfaces(r)).not.toContain(v)
  })

  it('the image carries the values of exactly the ARGs its target consumes; no value leaks', async () => {
    await rm(argvLog, { force: true })
    const exportPath = path.join(app.dir, '..', `${path.basename(app.dir)}-export.tgz`)
    const r = await run({ export: exportPath })
    if (r.error) throw r.error
    const ref = `${rig.registry}/${rr.app}:web.${r.result!.buildId}`
    expect(
      await imageFiles(ref, [
        '/final.txt',
        '/in-build.txt',
        '/onbuild.txt',
        '/overridden.txt',
        '/dev.txt',
        '/unused.txt'
      ])
    ).toEqual({
      '/final.txt': ENV.IN_FINAL,
      '/in-build.txt': ENV.IN_BUILD,
      '/onbuild.txt': ENV.FROM_ONBUILD,
      '/overridden.txt': GIVEN
    })
    // BuildKit records the args in scope of each RUN of the final stage, as on the rack: said.
    const history = await imageHistory(ref)
    expect(history).toContain(ENV.IN_FINAL)
    expect(history).not.toContain(ENV.IN_BUILD)
    const said = r.log.warnings.map(w => w.message).filter(m => m.includes('image history'))
    expect(said.map(m => m.split(' ')[0]).sort()).toEqual(['FROM_ONBUILD', 'IN_FINAL'])
    expect(said.join('\n')).not.toContain('IN_MANIFEST')

    // buildctl was given the names, the values in its environment only.
    const argv = await readFile(argvLog, 'utf8')
    expect(argv).toContain('--opt build-arg:IN_FINAL ')
    expect(argv).toContain(`--opt build-arg:OVERRIDDEN=${GIVEN}`)
    expect(argv).not.toContain('IN_UNUSED')
    expect(argv).not.toContain('DEV_ONLY')

    const all = await surfaces(r)
    const buildJson = await exportedBuildJson(exportPath)
    for (const v of secretValues) {
      expect(all).not.toContain(v)
      expect(buildJson).not.toContain(v)
    }
    // The log names where values came from, and masks them.
    expect(r.log.text()).toContain(
      "(from the app's env: FROM_ONBUILD IN_BUILD IN_FINAL IN_MANIFEST)"
    )
    // A value convox.yml itself holds does not stop build.json, which keeps the manifest as written.
    expect(buildJson).toContain(`IN_MANIFEST=${ENV.IN_MANIFEST}`)
    expect(r.log.masked).toEqual(expect.arrayContaining([ENV.IN_FINAL, ENV.IN_BUILD]))
    await rm(exportPath, { force: true })
  })

  it('a development build takes the values of its target', async () => {
    const r = await run({ development: 'true' })
    if (r.error) throw r.error
    expect(r.result!.plan.builds[0]!.args).toEqual(['DEV_ONLY'])
    const ref = `${rig.registry}/${rr.app}:web.${r.result!.buildId}`
    expect(await imageFiles(ref, ['/dev.txt', '/final.txt'])).toEqual({
      '/dev.txt': ENV.DEV_ONLY
    })
    for (const v of secretValues) expect(await surfaces(r)).not.toContain(v)
  })

  it('without a rack (export-only), the log says the app env was not read and what it lacks', async () => {
    const r = await runWithInputs(
      { app: rr.app, 'dry-run': 'true', 'build-args': `OVERRIDDEN=${GIVEN}` },
      { env: { ...env(), DOCKERFILE_NAME: 'Dockerfile.app' }, cwd: app.dir }
    )
    if (r.error) throw r.error
    expect(r.log.lines).toContain(
      "the app's env was not read (no rack): ARGs take values from build-args only; none fills FROM_ONBUILD, IN_BUILD, IN_FINAL, IN_MANIFEST (on the rack the app's env would give them: pass them with build-args)"
    )
    expect(r.result!.plan.builds[0]!.args).toEqual(['OVERRIDDEN'])
  })

  it('app-env-args: false passes build args only', async () => {
    const r = await run({ 'app-env-args': 'false' })
    if (r.error) throw r.error
    expect(r.result!.plan.builds[0]!.args).toEqual(['OVERRIDDEN'])
    const ref = `${rig.registry}/${rr.app}:web.${r.result!.buildId}`
    expect(await imageFiles(ref, ['/final.txt', '/overridden.txt'])).toEqual({
      '/final.txt': '',
      '/overridden.txt': GIVEN
    })
  })
})

/** build.json of an export tarball. */
async function exportedBuildJson(file: string): Promise<string> {
  let found = ''
  const extract = tar.extract()
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: unknown) => void chunks.push(c as Buffer))
    stream.on('end', () => {
      if (path.basename(header.name) === 'build.json') found = Buffer.concat(chunks).toString()
      next()
    })
  })
  await pipeline(createReadStream(file), createGunzip(), extract)
  if (!found)
    throw new Error(`no build.json in ${file}: ${(await readdir(path.dirname(file))).join(', ')}`)
  return found
}
