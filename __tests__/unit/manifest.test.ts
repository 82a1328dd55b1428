import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { UserError, formatProblem } from '../../src/core/errors.js'
import { silentLogger, type Logger } from '../../src/core/log.js'
import { imageReferenceProblem } from '../../src/core/registry/reference.js'
import { loadManifest, parseManifest } from '../../src/core/manifest.js'
import { thrown } from '../helpers/errors.js'

function logger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return {
    ...silentLogger,
    warnings,
    warning: (m, w) => void warnings.push(w ? `${formatProblem({ message: m, ...w })}` : m)
  }
}

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseManifest(text, { file: 'convox.yml', env, logger: silentLogger })
  } catch (e) {
    if (e instanceof UserError) return e.problems.map(formatProblem)
    throw e
  }
  return []
}

describe('parseManifest: what services build', () => {
  it.each([
    [
      'build string',
      'services:\n  web:\n    build: app\n',
      { path: 'app', manifest: 'Dockerfile' }
    ],
    [
      'build map',
      'services:\n  web:\n    build:\n      path: app\n      manifest: D.prod\n',
      { path: 'app', manifest: 'D.prod' }
    ],
    [
      'build map, manifest only',
      'services:\n  web:\n    build:\n      manifest: D.prod\n',
      { path: '.', manifest: 'D.prod' }
    ],
    [
      'build map, path only',
      'services:\n  web:\n    build:\n      path: app\n',
      { path: 'app', manifest: 'Dockerfile' }
    ],
    [
      'neither build nor image builds . (as the rack)',
      'services:\n  web:\n    port: 3000\n',
      { path: '.', manifest: 'Dockerfile' }
    ],
    ['a null service builds .', 'services:\n  web:\n', { path: '.', manifest: 'Dockerfile' }],
    [
      'null build builds .',
      'services:\n  web:\n    build:\n',
      { path: '.', manifest: 'Dockerfile' }
    ],
    [
      'empty build string builds .',
      'services:\n  web:\n    build: ""\n',
      { path: '.', manifest: 'Dockerfile' }
    ],
    ['build .', 'services:\n  web:\n    build: .\n', { path: '.', manifest: 'Dockerfile' }],
    [
      // yaml.v2 decode.go mappingSlice drops a plain merge key (services are a MapSlice).
      'plain merge key in a service is dropped, as on the rack',
      'x: &b\n  build: app\nservices:\n  web:\n    <<: *b\n    port: 1\n',
      { path: '.', manifest: 'Dockerfile' }
    ],
    [
      'plain merge key, explicit build',
      'x: &b\n  build: app\nservices:\n  web:\n    <<: *b\n    build: other\n',
      { path: 'other', manifest: 'Dockerfile' }
    ],
    [
      // yaml.go remarshal: the quoted key is marshalled plain, then merged.
      'quoted "<<" merges (pkg/manifest yaml.go remarshal)',
      'x: &b\n  build: app\nservices:\n  web:\n    "<<": *b\n',
      { path: 'app', manifest: 'Dockerfile' }
    ],
    [
      'image "" beside build builds (manifest.go ApplyDefaults)',
      'services:\n  web:\n    build: app\n    image: ""\n',
      { path: 'app', manifest: 'Dockerfile' }
    ],
    [
      'service alias',
      'x: &b\n  build: app\nservices:\n  web: *b\n',
      { path: 'app', manifest: 'Dockerfile' }
    ],
    [
      'interpolated path',
      'services:\n  web:\n    build: ${DIR}\n',
      { path: 'sub', manifest: 'Dockerfile' }
    ]
  ])('%s', (_name, text, build) => {
    const m = parseManifest(text, { file: 'convox.yml', env: { DIR: 'sub' }, logger: silentLogger })
    expect(m.services).toEqual([
      expect.objectContaining({ name: 'web', build: expect.objectContaining(build) })
    ])
    expect(m.services[0]?.image).toBeUndefined()
  })

  it('keeps services in manifest order, image services with their image', () => {
    const m = parseManifest('services:\n  b:\n    image: redis:7\n  a: {}\n  c:\n    build: x\n', {
      file: 'convox.yml',
      env: {},
      logger: silentLogger
    })
    expect(m.services.map(s => [s.name, s.image ?? s.build?.path])).toEqual([
      ['b', 'redis:7'],
      ['a', '.'],
      ['c', 'x']
    ])
    expect(m.services[0]?.at).toEqual({ line: 2, col: 3 })
  })

  it('accepts every other key as it is', () => {
    const text = fs.readFileSync(
      new URL(
        '../fixtures/manifests/convox__convox__pkg_manifest_testdata_full.yml',
        import.meta.url
      ),
      'utf8'
    )
    const m = parseManifest(text, { file: 'convox.yml', env: { BAR: 'x' }, logger: silentLogger })
    expect(m.services.map(s => s.name)).toEqual([
      'api',
      'proxy',
      'foo',
      'bar',
      'gpuscaler',
      'defaultgpuscaler',
      'scaler',
      'inherit',
      'agent',
      'secured'
    ])
    expect(m.text).toBe(text)
  })

  it('warns about build.args and unknown build keys', () => {
    const l = logger()
    parseManifest(
      'services:\n  web:\n    build:\n      path: .\n      args:\n        - A=1\n      contxt: x\n',
      {
        file: 'convox.yml',
        env: {},
        logger: l
      }
    )
    expect(l.warnings).toEqual([
      'convox.yml:5:7: service web: build.args is not used by Convox builds; pass build args with build-args (--build-args on the CLI)'
    ])
  })
})

describe('parseManifest: problems, all at once, with positions', () => {
  it.each([
    [
      'not a mapping',
      'foo\n',
      ['convox.yml:1:1: the manifest must be a YAML mapping of sections (services, resources, ...)']
    ],
    [
      'services not a map (yaml.go unmarshalMapSlice)',
      'services:\n  - web\n',
      ['convox.yml:2:5: services: cannot unmarshal !!str `web` into yaml.MapItem']
    ],
    [
      'service not a map',
      'services:\n  web: 3\n',
      ['convox.yml:2:8: services.web: cannot unmarshal !!int `3` into manifest.Service']
    ],
    [
      'bad service names (validate.go validateServices)',
      'services:\n  Web: {}\n  9x: {}\n',
      [
        'convox.yml:2:3: service name Web invalid, must contain only lowercase alphanumeric and dashes',
        'convox.yml:3:3: service name 9x invalid, must contain only lowercase alphanumeric and dashes'
      ]
    ],
    [
      'bad image references',
      'services:\n  a:\n    image: Redis\n  b:\n    image: "redis:-alpine"\n  d:\n    image: [x]\n',
      [
        'convox.yml:7:12: services.d.image: cannot unmarshal !!seq into string',
        'convox.yml:3:12: service a: image "Redis" has "Redis" in its repository name: a repository name must be lowercase',
        'convox.yml:5:12: service b: image "redis:-alpine" has an invalid tag "-alpine" (a tag is 1 to 128 letters, digits, _, . or -, and does not start with . or -)'
      ]
    ],
    [
      'duplicate service (stricter than the rack)',
      'services:\n  web: {}\n  web:\n    image: x\n',
      ['convox.yml:3:3: service web is defined twice (first on line 2): rename one']
    ],
    [
      'build not a path (yaml.go ServiceBuild.UnmarshalYAML)',
      'services:\n  web:\n    build: [a]\n',
      [
        'convox.yml:3:12: services.web.build: unknown type for service build: []interface {} (write the path as a string, or a map with path and manifest)'
      ]
    ],
    [
      'build: 1 is a number to yaml.v2',
      'services:\n  web:\n    build: 1\n',
      [
        'convox.yml:3:12: services.web.build: unknown type for service build: int (write the path as a string, or a map with path and manifest)'
      ]
    ],
    [
      'build.path not a string',
      'services:\n  web:\n    build:\n      path: {a: 1}\n',
      ['convox.yml:4:13: services.web.build.path: cannot unmarshal !!map into string']
    ],
    [
      'YAML syntax error',
      'services:\n  web:\n    build: "x\n',
      ['convox.yml:4:1: Missing closing "quote']
    ],
    [
      'tab indentation',
      'services:\n\tweb: {}\n',
      ['convox.yml:2:1: Tabs are not allowed as indentation']
    ]
  ])('%s', (_name, text, expected) => {
    expect(problems(text)).toEqual(expected)
  })
})

describe('interpolation in the manifest', () => {
  it('warns once per unset variable, naming it and its line, and sees the rack forms', () => {
    const l = logger()
    const m = parseManifest(
      'environment:\n  - A=${UNSET}\n  - B=${X:-y}\nservices:\n  web:\n    image: redis:${TAG}\n',
      { file: 'convox.yml', env: { TAG: '7' }, logger: l }
    )
    expect(m.services[0]?.image).toBe('redis:7')
    expect(l.warnings).toEqual([
      'convox.yml:2:7: ${UNSET} is not set: it becomes empty',
      'convox.yml:3:7: ${X:-y} is not set: it becomes empty (the rack looks up a variable named exactly "X:-y": no defaults or other shell forms)'
    ])
  })

  it.each([
    [
      'image tag',
      'services:\n  web:\n    image: redis:${TAG}-alpine\n',
      'convox.yml:3:12: service web: image "redis:-alpine" has an invalid tag "-alpine" (a tag is 1 to 128 letters, digits, _, . or -, and does not start with . or -) (${TAG} is not set and became empty)'
    ],
    [
      'whole image',
      'services:\n  web:\n    image: ${IMG}\n',
      'convox.yml:3:5: service web: image is empty (${IMG} is not set and became empty)'
    ],
    [
      'whole build',
      'services:\n  web:\n    build: ${B}\n',
      'convox.yml:3:5: service web: build is empty (${B} is not set and became empty)'
    ],
    [
      'build path',
      'services:\n  web:\n    build:\n      path: ${P}\n',
      'convox.yml:4:7: service web: build.path is empty (${P} is not set and became empty)'
    ]
  ])('an unset variable that makes %s invalid is an error', (_n, text, expected) => {
    expect(problems(text)).toEqual([expected])
  })

  it('maps positions after multi-line values back to the source', () => {
    expect(problems('a: "${ML}"\nservices:\n  Web: {}\n', { ML: 'x\\ny\\nz' })).toEqual([
      expect.stringMatching(/^convox\.yml:3:3: service name Web/)
    ])
    expect(problems('a: |\n  ${ML}\nservices:\n  Web: {}\n', { ML: 'x\n  y\n  z' })).toEqual([
      expect.stringMatching(/^convox\.yml:4:3: service name Web/)
    ])
  })
})

describe('loadManifest: build paths on disk', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-'))
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'))
  fs.writeFileSync(path.join(outside, 'Dockerfile'), 'FROM scratch\n')
  fs.mkdirSync(path.join(root, 'app/docker'), { recursive: true })
  fs.writeFileSync(path.join(root, 'Dockerfile'), '')
  fs.writeFileSync(path.join(root, 'app/docker/Dockerfile.prod'), '')
  fs.writeFileSync(path.join(root, 'file'), '')
  fs.symlinkSync(outside, path.join(root, 'link-out'))
  fs.symlinkSync(path.join(outside, 'Dockerfile'), path.join(root, 'Dockerfile.link'))
  fs.symlinkSync(path.join(root, 'app'), path.join(root, 'link-in'))

  function load(yml: string) {
    fs.writeFileSync(path.join(root, 'convox.yml'), yml)
    return loadManifest({
      workingDirectory: root,
      manifest: 'convox.yml',
      env: {},
      logger: silentLogger
    })
  }
  function loadProblems(yml: string): string[] {
    try {
      load(yml)
    } catch (e) {
      if (e instanceof UserError) return e.problems.map(formatProblem)
      throw e
    }
    return []
  }

  it('resolves context and Dockerfile relative to the working directory, POSIX, . for the root', () => {
    const m = load(
      'services:\n  a: {}\n  b:\n    build:\n      path: ./app/\n      manifest: docker/Dockerfile.prod\n  c:\n    build:\n      path: link-in\n      manifest: docker/Dockerfile.prod\n'
    )
    expect(m.services.map(s => [s.build?.context, s.build?.dockerfile])).toEqual([
      ['.', 'Dockerfile'],
      ['app', 'docker/Dockerfile.prod'],
      ['link-in', 'docker/Dockerfile.prod']
    ])
    expect(m.services[1]?.build?.contextPath).toBe(path.join(root, 'app'))
    expect(m.services[1]?.build?.dockerfilePath).toBe(path.join(root, 'app/docker/Dockerfile.prod'))
  })

  it.each([
    [
      // pkg/build/buildkit.go Build: filepath.Join(dir, build.Build.Path) keeps it inside.
      'absolute path, taken from the source root as the rack does',
      'build: /nope',
      'convox.yml:3:12: build path "/nope" does not exist'
    ],
    [
      '.. escape',
      'build: ../x',
      'convox.yml:3:12: build path "../x" is outside the working directory'
    ],
    [
      'hidden .. escape',
      'build: app/../../x',
      'convox.yml:3:12: build path "app/../../x" is outside the working directory'
    ],
    [
      'symlink out',
      'build: link-out',
      'convox.yml:3:12: build path "link-out" leads outside the working directory (symlink)'
    ],
    ['missing', 'build: nope', 'convox.yml:3:12: build path "nope" does not exist'],
    ['a file', 'build: file', 'convox.yml:3:12: build path "file" is not a directory'],
    [
      'Dockerfile missing',
      'build: app',
      'convox.yml:3:12: no Dockerfile at app/Dockerfile (build path "app", Dockerfile "Dockerfile", from the working directory)'
    ],
    [
      'Dockerfile a directory',
      'build:\n      manifest: app',
      'convox.yml:4:17: Dockerfile app is not a file'
    ],
    [
      'Dockerfile absolute, taken from the build path',
      'build:\n      manifest: /x/Dockerfile',
      'convox.yml:4:17: no Dockerfile at x/Dockerfile (build path ".", Dockerfile "/x/Dockerfile", from the working directory)'
    ],
    [
      'Dockerfile escape',
      'build:\n      manifest: ../Dockerfile',
      'convox.yml:4:17: Dockerfile "../Dockerfile" is outside the working directory'
    ],
    [
      'Dockerfile symlink out',
      'build:\n      manifest: Dockerfile.link',
      'convox.yml:4:17: Dockerfile Dockerfile.link leads outside the working directory (symlink)'
    ]
  ])('%s', (_n, build, expected) => {
    expect(loadProblems(`services:\n  web:\n    ${build}\n`)).toEqual([expected])
  })

  it('reports every build problem at once', () => {
    expect(
      loadProblems('services:\n  a:\n    build: nope\n  b:\n    build: /abs\n  c: {}\n')
    ).toEqual([
      'convox.yml:3:12: build path "nope" does not exist',
      'convox.yml:5:12: build path "/abs" does not exist'
    ])
  })

  it('names a missing manifest as the input', () => {
    expect(() =>
      loadManifest({ workingDirectory: root, manifest: 'nope.yml', env: {}, logger: silentLogger })
    ).toThrow(/nope\.yml no such file/)
    expect(
      thrown(() =>
        loadManifest({ workingDirectory: root, manifest: 'app', env: {}, logger: silentLogger })
      ).problems
    ).toEqual([{ input: 'manifest', message: 'app is a directory, not a file' }])
  })
})

describe('image references', () => {
  it.each([
    ['redis', null],
    ['redis:7-alpine', null],
    ['library/redis:7', null],
    ['docker.io/library/redis:7', null],
    ['localhost:5000/a/b:c', null],
    ['ghcr.io/acme/app@sha256:' + 'a'.repeat(64), null],
    ['ghcr.io/acme/app:1@sha256:' + 'a'.repeat(64), null],
    ['[::1]:5000/app:x', null],
    ['redis:-alpine', 'has an invalid tag'],
    ['redis:', 'has an invalid tag'],
    ['Redis', 'must be lowercase'],
    ['redis@sha256:abc', 'has an invalid digest'],
    ['a//b', 'has an empty path component'],
    ['re dis', 'contains whitespace'],
    ['-bad.example.com/x', 'has an invalid registry host'],
    ['a/-b', 'has an invalid repository name component']
  ])('%s', (ref, problem) => {
    const why = imageReferenceProblem(ref)
    expect(why === null ? null : why.includes(problem ?? '\0') ? problem : why).toBe(problem)
  })
})

describe('scalars named like Object properties', () => {
  it('reads `constructor` or `toString` as text, as yaml.v2 does', () => {
    expect(problems('services:\n  web:\n    image: constructor\n    command: toString\n')).toEqual(
      []
    )
    expect(
      parseManifest('services:\n  web:\n    image: constructor\n', {
        file: 'convox.yml',
        env: {},
        logger: silentLogger
      }).services.map(s => s.image)
    ).toEqual(['constructor'])
  })
})
