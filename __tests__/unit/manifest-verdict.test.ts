// convox.yml as Convox's own code reads it where real apps differed. Each expectation was checked
// by running pkg/manifest Load (manifest.go) and Validate on the same text, at the commit of
// ../shared/realrack/convox-src: a key given twice is decoded again into what the first left
// (gopkg.in/yaml.v2 decode.go unmarshal into the same struct field), and Services, Resources,
// Balancers, Timers (yaml.go unmarshalMapSlice) and Environment (yaml.go Environment.UnmarshalYAML)
// append to it, while a null resets it.
import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { UserError, formatProblem } from '../../src/core/errors.js'
import { silentLogger, type Logger } from '../../src/core/log.js'
import { loadManifest, parseManifest } from '../../src/core/manifest.js'

function logger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return {
    ...silentLogger,
    warnings,
    warning: (m, w) => void warnings.push(w ? formatProblem({ message: m, ...w }) : m)
  }
}

function parse(text: string, env: NodeJS.ProcessEnv = {}) {
  const log = logger()
  try {
    const m = parseManifest(text, { file: 'convox.yml', env, logger: log })
    return { services: m.services.map(s => s.name), problems: [], warnings: log.warnings }
  } catch (e) {
    if (!(e instanceof UserError)) throw e
    return { services: [], problems: e.problems.map(formatProblem), warnings: log.warnings }
  }
}

describe('a top-level key given twice, as manifest.Load decodes it', () => {
  it('services twice: the rack builds the services of both', () => {
    const r = parse('services:\n  web:\n    build: .\nservices:\n  worker:\n    image: nginx\n')
    expect(r.services).toEqual(['web', 'worker'])
    expect(r.warnings).toEqual([
      `convox.yml:4:1: key "services" is given twice: the rack reads both, the later one's entries after the first's`
    ])
  })

  it('the same service in both is one service defined twice (an error, as before)', () => {
    const r = parse('services:\n  web:\n    build: .\nservices:\n  web:\n    image: nginx\n')
    expect(r.problems).toEqual([
      'convox.yml:5:3: service web is defined twice (first on line 2): rename one'
    ])
  })

  it('an empty services: after the first leaves none, as on the rack', () => {
    const r = parse('services:\n  web:\n    build: .\nservices:\n')
    expect(r.services).toEqual([])
    expect(r.warnings).toContain(
      'convox.yml:4:1: key "services" is given twice: the later one is empty, so the rack drops what the first one gave'
    )
  })

  it('resources twice: a service may use those of either', () => {
    const r = parse(
      'resources:\n  db:\n    type: postgres\nresources:\n  cache:\n    type: redis\n' +
        'services:\n  web:\n    build: .\n    resources:\n      - db\n      - cache\n'
    )
    expect(r.problems).toEqual([])
    expect(r.services).toEqual(['web'])
  })

  it('environment twice is read whole; a plain value twice is the last one', () => {
    const r = parse(
      'environment:\n  - A=1\nservices:\n  web:\n    build: .\n    port: 1\n    port: 2\nenvironment:\n  - B=2\n'
    )
    expect(r.warnings).toEqual([
      'convox.yml:7:5: services.web: key "port" is given twice (first on line 6): the rack uses the last one',
      `convox.yml:8:1: key "environment" is given twice: the rack reads both, the later one's entries after the first's`
    ])
  })

  it('labels twice are merged', () => {
    const r = parse('labels:\n  a: "1"\nlabels:\n  b: "2"\nservices:\n  web:\n    build: .\n')
    expect(r.warnings).toEqual([
      'convox.yml:3:1: key "labels" is given twice: the rack merges them, a name given in both taking the later value'
    ])
  })
})

describe('messages seen on real apps', () => {
  it('no "is not set" warning for a variable in a comment', () => {
    const r = parse(
      '# image: ${COMMENTED}\nservices:\n  web:\n    build: . # ${TRAILING}\n    command: "echo #${IN_QUOTES}"\n'
    )
    expect(r.warnings).toEqual(['convox.yml:5:21: ${IN_QUOTES} is not set: it becomes empty'])
  })

  it('a variable whose empty value makes a field invalid is named in that error', () => {
    expect(
      parse('services:\n  web:\n    build: .\n    deployment:\n      minimum: "${MIN}"\n').problems
    ).toEqual([
      'convox.yml:5:16: services.web.deployment.minimum: cannot unmarshal !!str `` into int (${MIN} is not set and became empty)'
    ])
    expect(parse('services:\n  web:\n    port: "${PORT}"\n', { PORT: '' }).problems).toEqual([
      'convox.yml:3:11: services.web.port: strconv.Atoi: parsing "": invalid syntax (${PORT} is empty)'
    ])
  })

  it('a missing Dockerfile names its path, and the working directory the manifest folder suggests', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdict-'))
    fs.mkdirSync(path.join(dir, 'app'))
    fs.writeFileSync(path.join(dir, 'app', 'convox.yml'), 'services:\n  web:\n    build: .\n')
    fs.writeFileSync(path.join(dir, 'app', 'Dockerfile'), 'FROM busybox\n')
    let problems: string[] = []
    try {
      loadManifest({
        workingDirectory: dir,
        manifest: 'app/convox.yml',
        env: {},
        logger: silentLogger
      })
    } catch (e) {
      problems = (e as UserError).problems.map(formatProblem)
    }
    expect(problems).toEqual([
      'app/convox.yml:3:12: no Dockerfile at Dockerfile (build path ".", Dockerfile "Dockerfile", from the working directory); app/Dockerfile exists: set working-directory to app (and the manifest relative to it)'
    ])
  })
})
