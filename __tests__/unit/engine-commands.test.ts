import { describe, expect, it } from '@jest/globals'
import { buildctlCommand } from '../../src/core/engine/buildctl.js'
import { buildxCommand } from '../../src/core/engine/buildx.js'
import { parseBuilderPlatforms, parseBuildxDriver } from '../../src/core/engine/select.js'
import { secretEnvName } from '../../src/core/engine/types.js'
import { engineRequest, REQUEST_AUTH as AUTH } from '../helpers/engine-plan.js'

describe('buildctl command', () => {
  const cmd = buildctlCommand(engineRequest(), 'tcp://bk:1234')
  const a = cmd.args

  it('builds like the rack: dockerfile frontend, locals, filename, args', () => {
    expect(cmd.command).toBe('buildctl')
    expect(a.slice(0, 5)).toEqual([
      '--addr',
      'tcp://bk:1234',
      'build',
      '--frontend',
      'dockerfile.v0'
    ])
    expect(a).toContain(`context=${engineRequest().spec.contextPath}`)
    expect(a).toContain('filename=Dockerfile')
    expect(a).toContain('build-arg:VERSION=1.2.3')
    expect(a).toContain('platform=linux/amd64,linux/arm64')
  })

  it('pushes every tag in one output and writes metadata and rawjson progress', () => {
    expect(a).toContain(
      'type=image,"name=r.example/app:web.BABCDEFGHIJ,r.example/app:worker.BABCDEFGHIJ",push=true'
    )
    expect(a.join(' ')).toContain('--metadata-file /tmp/m.json --progress rawjson')
  })

  it('uses the rack registry cache refs exactly', () => {
    expect(a).toContain('type=registry,ref=r.example/app:web.buildcache')
    expect(a).toContain(
      'type=registry,ref=r.example/app:web.buildcache,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true'
    )
    expect(a[a.indexOf('type=registry,ref=r.example/app:web.buildcache') - 1]).toBe(
      '--import-cache'
    )
  })

  it('passes secrets and BUILD_AUTH by env, never on the command line', () => {
    expect(a).toContain('id=npm,env=CONVOX_BUILD_SECRET_npm')
    expect(a.join(' ')).not.toContain('npm-token')
    expect(a.join(' ')).not.toContain('s3cret')
    expect(a[a.indexOf('build-arg:BUILD_AUTH') - 1]).toBe('--opt')
    expect(cmd.env).toEqual({ BUILD_AUTH: AUTH, CONVOX_BUILD_SECRET_npm: 'npm-token' })
  })

  it('writes an OCI archive when asked, nothing when not pushing', () => {
    const oci = buildctlCommand(engineRequest({ type: 'oci', dest: '/t/build-0.tar' }), 'x').args
    expect(oci.find(s => s.startsWith('type=oci'))).toMatch(
      /^type=oci,dest=\/t\/build-0\.tar,"name=/
    )
    expect(buildctlCommand(engineRequest({ type: 'none' }), 'x').args).not.toContain('--output')
  })
})

describe('buildx command', () => {
  const cmd = buildxCommand(engineRequest(), 'rig')
  const a = cmd.args

  it('never puts a secret value on the command line', () => {
    expect(a.join(' ')).not.toContain('s3cret')
    expect(a.join(' ')).not.toContain('npm-token')
    expect(a[a.indexOf('BUILD_AUTH') - 1]).toBe('--build-arg')
    expect(cmd.env).toEqual({ BUILD_AUTH: AUTH, CONVOX_BUILD_SECRET_npm: 'npm-token' })
  })

  it('uses the builder, cache, push output, metadata and rawjson', () => {
    expect(a.slice(0, 4)).toEqual(['buildx', 'build', '--builder', 'rig'])
    expect(a).toContain('--cache-from')
    expect(a).toContain('--cache-to')
    expect(a).toContain('VERSION=1.2.3')
    expect(a).toContain('--provenance=false')
    expect(a.join(' ')).toContain('--metadata-file /tmp/m.json --progress rawjson')
    expect(a.at(-1)).toBe(engineRequest().spec.contextPath)
  })

  it('tags without output when not pushing (the docker driver loads them)', () => {
    const none = buildxCommand(engineRequest({ type: 'none' }), '').args
    expect(none).not.toContain('--builder')
    expect(none).not.toContain('--output')
    expect(none.filter(x => x === '--tag')).toHaveLength(2)
  })
})

describe('buildx inspect', () => {
  it('reads the driver', () => {
    const out =
      'Name:          rig\nDriver:        remote\nLast Activity: x\n\nNodes:\nName: rig0\n'
    expect(parseBuildxDriver(out)).toBe('remote')
    expect(parseBuildxDriver('nothing')).toBe('')
  })

  it("reads the builder's own platforms, each node's first, from buildx inspect and buildctl debug workers", () => {
    // As the rig's buildx v0.38 and buildctl v0.34 print them.
    const inspect = [
      'Name:          rig',
      'Driver:        remote',
      '',
      'Nodes:',
      'Name:             rig0',
      'Status:           running',
      'Platforms:        linux/amd64, linux/amd64/v2, linux/386, linux/arm64',
      'Labels:'
    ].join('\n')
    expect(parseBuilderPlatforms(inspect)).toEqual(['linux/amd64'])
    expect(parseBuilderPlatforms('Platforms: linux/arm64*, linux/amd64')).toEqual(['linux/arm64'])
    // A builder of two nodes (remote driver, `--append`, each created with `--platform`): both.
    const twoNodes = [
      inspect,
      'Name:             rig1',
      'Status:           running',
      'Platforms:        linux/arm64*, linux/amd64, linux/amd64/v2',
      'Name:             rig2',
      'Platforms:        linux/amd64*'
    ].join('\n')
    expect(parseBuilderPlatforms(twoNodes)).toEqual(['linux/amd64', 'linux/arm64'])
    const workers = 'ID\t\t\t\tPLATFORMS\naifcag457j8d\tlinux/arm64,linux/amd64\n'
    expect(parseBuilderPlatforms(workers)).toEqual(['linux/arm64'])
    const twoWorkers = `${workers}bq0z1\tlinux/amd64\n`
    expect(parseBuilderPlatforms(twoWorkers)).toEqual(['linux/arm64', 'linux/amd64'])
    expect(parseBuilderPlatforms('nothing')).toEqual([])
  })
})

describe('secret environment names', () => {
  it('keeps every id apart: a-b, a_b, a.b and A_B are four names', () => {
    const names = ['a-b', 'a_b', 'a.b', 'A_B', 'a__b'].map(secretEnvName)
    expect(new Set(names).size).toBe(names.length)
    for (const n of names) expect(n).toMatch(/^CONVOX_BUILD_SECRET_[A-Za-z0-9_]+$/)
  })
})
