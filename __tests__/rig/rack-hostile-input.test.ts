// Convox's own rack API (realrack) with a password holding every URL metacharacter. The rack
// answers an external build's push target as `https://convox:<password>@<host>/<app>` with the
// password not escaped (provider/k8s/build.go BuildCreate; `-external-repo proxy` keeps that form
// and points it at the rack's real /v2/ proxy). A whole `convox-build build` runs with every
// process's command line read from /proc while it runs: the password is on none, the refs carry
// host and path only. And a manifest linked out of the checkout never reaches the rack.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { exampleApp, type ExampleApp } from '../helpers/pipeline.js'
import { runWatched, type WatchedRun } from '../helpers/process-table.js'
import { startRealRack, type RealRack } from '../helpers/realrack.js'
import { CLI, loadRig, rigCliEnv, rigCliFlags } from '../helpers/rig.js'

const rig = loadRig()
// `/ # ? @ : % +`, a space and non-ASCII, each where a URL parser would cut or decode; a URL
// parser reads `convox:1234` as a host and port and `/p` as the path.
const PASSWORD = `1234/p#2?3@4:5%6+7 8ü日-${randomBytes(6).toString('hex')}`
const SHA = '0123456789abcdef0123456789abcdef01234567'

/** The password, the forms it could be written in, and every 6 characters of it in a row. */
function leaks(text: string): string[] {
  const forms = [
    PASSWORD,
    encodeURIComponent(PASSWORD),
    Buffer.from(PASSWORD).toString('base64').replace(/=+$/, '')
  ]
  const found = forms.filter(f => text.includes(f))
  for (let i = 0; i + 6 <= PASSWORD.length; i++) {
    const piece = PASSWORD.slice(i, i + 6)
    if (text.includes(piece)) found.push(piece)
  }
  return found
}

let rr: RealRack
let example: ExampleApp

beforeAll(async () => {
  rr = await startRealRack(rig, {
    password: PASSWORD,
    flags: ['-external-repo', 'proxy', '-atom-delay', '1s']
  })
  example = await exampleApp()
})
afterAll(async () => {
  await rr?.stop()
  if (example) await rm(example.dir, { recursive: true, force: true })
})

function build(extra: string[] = []): Promise<WatchedRun> {
  return runWatched(
    [CLI, 'build', '--app', rr.app, '--git-sha', SHA, '--json', ...rigCliFlags(rig), ...extra],
    // RACK_URL as a rack writes its own (provider/k8s/helpers.go): the password not escaped.
    { cwd: example.dir, env: rigCliEnv(rig, { RACK_URL: `http://convox:${PASSWORD}@${rr.host}` }) }
  )
}

describe('a rack password with every URL metacharacter', () => {
  let run: WatchedRun

  beforeAll(async () => {
    run = await build()
  })

  it('builds, pushes through the rack and registers', async () => {
    expect({ code: run.code, tail: run.stderr.slice(-3000) }).toEqual({
      code: 0,
      tail: expect.any(String)
    })
    const result = JSON.parse(run.stdout) as { buildId: string; images: Record<string, string> }
    expect(result.images.web).toBe(`${rr.host}/${rr.app}:web.${result.buildId}`)
    const state = await rr.state()
    expect(rr.buildsOf(state).map(b => [b.id, b.status])).toEqual([[result.buildId, 'complete']])
  })

  it("is on no process's command line: cache refs and outputs carry host and path only", () => {
    const builds = run.cmdlines.filter(c => /\bbuildctl\b/.test(c) && c.includes(' build '))
    expect(builds.length).toBeGreaterThan(0)
    // the refs name the rack's repository by host and path
    expect(
      builds.some(c => c.includes(`--import-cache type=registry,ref=${rr.host}/${rr.app}:`))
    ).toBe(true)
    expect(builds.some(c => c.includes(`name=${rr.host}/${rr.app}:`))).toBe(true)
    expect(run.cmdlines.flatMap(c => leaks(c).map(l => `${l} in: ${c}`))).toEqual([])
  })

  it('is in no output', () => {
    expect(leaks(run.stdout)).toEqual([])
    expect(leaks(run.stderr)).toEqual([])
  })
})

describe('a manifest linked out of the checkout', () => {
  const CANARY = `canary-${randomBytes(8).toString('hex')}`

  it('fails before the rack records anything, and nothing of it is written anywhere', async () => {
    const outside = path.join(
      path.dirname(example.dir),
      `outside-${randomBytes(4).toString('hex')}.json`
    )
    await writeFile(outside, `{"auths": {"r.example.com": {"auth": "${CANARY}"}}}\n`)
    const manifest = path.join(example.dir, 'convox.yml')
    const original = await readFile(manifest, 'utf8')
    await unlink(manifest)
    await symlink(outside, manifest)
    const before = rr.buildsOf(await rr.state()).length
    let run: WatchedRun
    try {
      run = await build(['--export', 'out/build.tgz'])
    } finally {
      await unlink(manifest)
      await writeFile(manifest, original)
      await rm(outside, { force: true })
    }
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      '--manifest: convox.yml leads outside the working directory (symlink)'
    )
    const state = await rr.state()
    expect(rr.buildsOf(state)).toHaveLength(before)
    for (const text of [run.stdout, run.stderr, JSON.stringify(state), rr.log()]) {
      expect(text).not.toContain(CANARY)
    }
  })
})
