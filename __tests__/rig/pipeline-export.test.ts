// Issue 5 through runPipeline: the example app built on the rig and exported; the tarball
// imported the rack's way (skopeo oci-archive -> registry) gives the same images, which run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGunzip, gunzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { BUILD_JSON_KEYS } from '../helpers/build-json.js'
import { buildDir } from '../helpers/dockerfile-build.js'
import {
  exampleApp,
  pipelineEnv,
  rigInputs,
  runWithInputs,
  type ExampleApp,
  type PipelineRun
} from '../helpers/pipeline.js'
import {
  loadRig,
  makeDockerConfig,
  registryCreds,
  rigLogins,
  skopeo,
  uniqueRepo
} from '../helpers/rig.js'

const rig = loadRig()
const SERVICES = ['web', 'worker', 'api', 'cache']
const SECRET = 's3cr3t-value'
/** Go's time.Time JSON: RFC 3339 with up to 9 fraction digits (trailing zeros trimmed). */
const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/

const sha256 = (text: string | Buffer): string =>
  `sha256:${createHash('sha256').update(text).digest('hex')}`

async function ok(p: ReturnType<typeof skopeo>, what: string): Promise<string> {
  const r = await p
  if (r.exitCode !== 0) throw new Error(`${what}: exit ${r.exitCode}: ${r.stderr.slice(-2000)}`)
  return r.stdout
}

/** The raw config blob of an image in the rig's push registry. */
function configOf(ref: string): Promise<string> {
  return ok(
    skopeo([
      'inspect',
      '--config',
      '--raw',
      '--tls-verify=false',
      '--creds',
      registryCreds(rig),
      `docker://${ref}`
    ]),
    `skopeo inspect --config ${ref}`
  )
}

/** Unpacks the export: entry names in order, build.json text, and each archive on disk. */
async function unpack(
  file: string,
  into: string
): Promise<{ names: string[]; buildJson: string; archives: Record<string, string> }> {
  const names: string[] = []
  const archives: Record<string, string> = {}
  let buildJson = ''
  const extract = tar.extract()
  extract.on('entry', (header, stream, next) => {
    names.push(header.name)
    if (header.name === 'build.json') {
      const chunks: Buffer[] = []
      stream.on('data', (c: unknown) => void chunks.push(c as Buffer))
      stream.on('end', () => {
        buildJson = Buffer.concat(chunks).toString('utf8')
        next()
      })
      return
    }
    const target = path.join(into, path.basename(header.name))
    archives[header.name] = target
    pipeline(stream, createWriteStream(target)).then(() => next(), next)
  })
  await pipeline(createReadStream(file), createGunzip(), extract)
  return { names, buildJson, archives }
}

describe('runPipeline export on the rig (issue 5)', () => {
  const repo = uniqueRepo('pipeline-export', rig)
  const otherRepo = uniqueRepo('pipeline-other', rig)
  const newId = 'BPIPELINEIM'
  let app: ExampleApp
  let dir: string
  let exportFile: string
  let run: PipelineRun
  let unpacked: Awaited<ReturnType<typeof unpack>>
  let record: Record<string, string>

  beforeAll(async () => {
    app = await exampleApp()
    dir = await mkdtemp(path.join(tmpdir(), 'pipeline-export-'))
    exportFile = path.join(dir, 'out', 'build.tgz')
    run = await runWithInputs(
      {
        ...rigInputs(rig),
        app: 'example',
        registry: repo,
        'registry-username': rig.registryUsername,
        'registry-password': rig.registryPassword,
        export: exportFile,
        'build-args': 'BUILD_APP\nBUILD_GIT_SHA\nBUILD_ID\nVERSION=1.2.3',
        secrets: `token=${SECRET}`
      },
      { env: pipelineEnv(rig), cwd: app.dir }
    )
    console.info(`pipeline-export: runPipeline took ${run.durationMs} ms`)
    if (run.error) throw run.error
    await mkdir(path.join(dir, 'unpacked'))
    unpacked = await unpack(exportFile, path.join(dir, 'unpacked'))
    record = JSON.parse(unpacked.buildJson) as Record<string, string>
  })

  afterAll(async () => {
    for (const d of [dir, app?.dir]) if (d) await rm(d, { recursive: true, force: true })
  })

  it('returns the build, its release and the pushed images', () => {
    const r = run.result!
    expect(r.buildId).toMatch(/^B[A-Z]{10}$/)
    expect(r.releaseId).toMatch(/^R[A-Z]{10}$/)
    expect(r.exportPath).toBe(exportFile)
    expect(r.images).toEqual(
      Object.fromEntries(SERVICES.map(s => [s, `${repo}:${s}.${r.buildId}`]))
    )
    for (const s of SERVICES) expect(r.digests[s]).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(r.plan.gitSha).toBe(app.sha)
    expect(r.buildArgNames).toEqual(['BUILD_APP', 'BUILD_GIT_SHA', 'BUILD_ID', 'VERSION'])
  })

  it('writes build.json and one <service>.<BUILD_ID>.tar per service, nothing else', () => {
    const id = run.result!.buildId
    expect(unpacked.names[0]).toBe('build.json')
    expect([...unpacked.names].sort()).toEqual(
      ['build.json', ...SERVICES.map(s => `${s}.${id}.tar`)].sort()
    )
  })

  it('build.json is the rack record: contract keys, RFC 3339 nano times, raw manifest', async () => {
    const r = run.result!
    // indented, as the rack writes it
    expect(unpacked.buildJson).toMatch(/^\{\n {2}"id": /)
    expect(Object.keys(record)).toEqual(BUILD_JSON_KEYS)
    for (const k of BUILD_JSON_KEYS) expect(typeof record[k]).toBe('string')
    expect(record).toMatchObject({
      id: r.buildId,
      app: 'example',
      'git-sha': app.sha,
      release: r.releaseId,
      status: 'complete',
      reason: '',
      description: `build ${app.sha.slice(0, 10)} Example app for pipeline tests`
    })
    expect(record.release).toMatch(/^R[A-Z]{10}$/)
    expect(record.manifest).toBe(await readFile(path.join(app.dir, 'convox.yml'), 'utf8'))
    expect(record.started).toMatch(RFC3339_NANO)
    expect(record.ended).toMatch(RFC3339_NANO)
    expect(Date.parse(record.ended!)).toBeGreaterThanOrEqual(Date.parse(record.started!))
    expect(record.repository).not.toMatch(/@/)
    expect(record.repository).toContain(repo.split('/').slice(1).join('/'))
    // the first service's (web's) entrypoint, as the rack reads it after the push
    const web = JSON.parse(await configOf(r.images.web!)) as {
      config?: { Entrypoint?: string[] | null }
    }
    expect(record.entrypoint).toBe((web.config?.Entrypoint ?? []).join(' '))
    expect(record.logs!.length).toBeGreaterThan(0)
  })

  it('imports the rack way (skopeo oci-archive -> registry) into images with the same config', async () => {
    const r = run.result!
    for (const service of SERVICES) {
      const archive = unpacked.archives[`${service}.${r.buildId}.tar`]!
      const target = `${otherRepo}:${service}.${newId}`
      await ok(
        skopeo([
          'copy',
          '--dest-creds',
          registryCreds(rig),
          '--dest-tls-verify=false',
          `oci-archive:${archive}`,
          `docker://${target}`
        ]),
        `skopeo copy ${service}`
      )
      const [imported, original] = await Promise.all([
        configOf(target),
        configOf(r.images[service]!)
      ])
      expect({ service, config: sha256(imported) }).toEqual({ service, config: sha256(original) })
      // every blob of the imported image can be read back and matches its digest
      await ok(
        skopeo([
          'copy',
          '--src-creds',
          registryCreds(rig),
          '--src-tls-verify=false',
          `docker://${target}`,
          `oci-archive:${path.join(dir, `roundtrip-${service}.tar`)}`
        ]),
        `skopeo copy back ${service}`
      )
    }
  })

  it('the imported images run and carry the build args', async () => {
    const r = run.result!
    const ctx = path.join(dir, 'run-ctx')
    await mkdir(ctx, { recursive: true })
    await writeFile(
      path.join(ctx, 'Dockerfile'),
      [
        `FROM ${otherRepo}:web.${newId} AS web`,
        'RUN cat /srv/build-info.txt > /out',
        `FROM ${otherRepo}:api.${newId} AS api`,
        'RUN cat /srv/build-info.txt /srv/stage > /out',
        `FROM ${otherRepo}:cache.${newId} AS cache`,
        'RUN busybox echo cache-runs > /out',
        'FROM scratch',
        'COPY --from=web /out /web.txt',
        'COPY --from=api /out /api.txt',
        'COPY --from=cache /out /cache.txt',
        ''
      ].join('\n')
    )
    const out = path.join(dir, 'run-out')
    const dockerConfig = await makeDockerConfig(rigLogins(rig))
    try {
      const b = await buildDir(ctx, `type=local,dest=${out}`, { noCache: true, rig, dockerConfig })
      if (b.exitCode !== 0) throw new Error(`buildctl: ${b.stderr.slice(-3000)}`)
    } finally {
      await rm(dockerConfig, { recursive: true, force: true })
    }
    const web = await readFile(path.join(out, 'web.txt'), 'utf8')
    expect(web).toBe(
      `BUILD_APP=example\nBUILD_GIT_SHA=${app.sha}\nBUILD_ID=${r.buildId}\nVERSION=1.2.3\n`
    )
    // api's Dockerfile declares BUILD_GIT_SHA, but the build-args input does not name BUILD_RACK
    const api = await readFile(path.join(out, 'api.txt'), 'utf8')
    expect(api).toContain(`BUILD_GIT_SHA=${app.sha}\n`)
    expect(api).toContain('production\n')
    expect(await readFile(path.join(out, 'cache.txt'), 'utf8')).toBe('cache-runs\n')
  })

  it('leaves no secret in the tarball, the result or the log', async () => {
    const secrets = [rig.registryPassword, rig.hubPassword, SECRET]
    const whole = gunzipSync(await readFile(exportFile))
    for (const s of secrets) expect({ s, found: whole.includes(s) }).toEqual({ s, found: false })
    // build-arg values stay out of the record (its logs hold BuildKit's step names)
    for (const s of [...secrets, '1.2.3']) {
      expect({ s, found: unpacked.buildJson.includes(s) }).toEqual({ s, found: false })
    }
    expect(record.logs).toContain('***')
    const result = JSON.stringify(run.result)
    for (const s of [...secrets, '1.2.3']) {
      expect({ s, found: result.includes(s) }).toEqual({ s, found: false })
    }
    const log = run.log.text()
    for (const s of secrets) expect({ s, found: log.includes(s) }).toEqual({ s, found: false })
    // and each is known to the run's redactor (which feeds the action's setSecret)
    for (const s of secrets) expect(run.log.secrets.redact(s)).toBe('***')
  })
})
