// What the rack's Load and Validate (convox/convox pkg/manifest, run by pkg/build/buildkit.go
// Build before building) accept and refuse, pinned case by case. Each expectation was checked
// against Convox's own code; the comment names the function that decides it.
import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import { parseManifest } from '../../src/core/manifest.js'
import fc from 'fast-check'
import { prefixCounter } from '../../src/core/manifest/rack-rules.js'

function run(text: string, env: NodeJS.ProcessEnv = {}) {
  const warnings: string[] = []
  const logger = {
    info() {},
    debug() {},
    error() {},
    mask() {},
    group: async <T>(_n: string, f: () => Promise<T>) => f(),
    warning: (m: string, w?: { line?: number }) => void warnings.push(`${w?.line}: ${m}`)
  }
  try {
    const m = parseManifest(text, { file: 'convox.yml', env, logger })
    return { services: m.services.map(s => [s.name, s.image ?? s.build?.path]), warnings }
  } catch (e) {
    if (!(e instanceof UserError)) throw e
    return { errors: e.problems.map(p => `${p.line}:${p.col}: ${p.message}`), warnings }
  }
}

const svc = (body: string) => `services:\n  web:\n${body.replace(/^/gm, '    ')}\n`

describe('the rack refuses it: so do we, at its line', () => {
  it.each([
    // yaml.go ServiceBuild.UnmarshalYAML: only a string or a map.
    [
      'build: 1',
      svc('build: 1'),
      /3:12: services\.web\.build: unknown type for service build: int/
    ],
    ['build: yes', svc('build: yes'), /unknown type for service build: bool/],
    // yaml.go ServiceAgent.UnmarshalYAML.
    [
      'agent as a map',
      svc('agent: {ports: [5000]}'),
      /agent ports are now specified at the service level/
    ],
    ['agent as text', svc('agent: "on"'), /could not parse agent/],
    // manifest.go Labels is map[string]string.
    [
      'labels as a list',
      'labels: [a=b]\nservices:\n  web: {}\n',
      /1:9: labels: cannot unmarshal !!seq into manifest\.Labels/
    ],
    ['service labels as a list', svc('labels: [a=b]'), /labels: cannot unmarshal !!seq/],
    // manifest.go CombineLabels: reserved keys.
    [
      'reserved label key',
      'labels: {app: x}\nservices:\n  web: {}\n',
      /reserved label key 'app' is not allowed/
    ],
    // yaml.go Environment.UnmarshalYAML: a list only.
    [
      'environment as a map',
      'environment: {A: 1}\nservices:\n  web: {}\n',
      /unknown type for service environment/
    ],
    // validate.go validateResources.
    [
      'resource name with _',
      'resources:\n  my_db: {type: postgres}\nservices:\n  web: {}\n',
      /2:3: resource name my_db invalid/
    ],
    [
      'resource without type',
      'resources:\n  db: {}\nservices:\n  web: {}\n',
      /resource "db" has blank type/
    ],
    // validate.go validateServices: resources must exist.
    [
      'unknown resource',
      svc('resources: [db]'),
      /service web references a resource that does not exist: db/
    ],
    // validate.go validateBalancers.
    [
      'balancer without ports',
      'balancers:\n  b: {service: web}\nservices:\n  web: {}\n',
      /balancer b has no ports/
    ],
    [
      'balancer of an unknown service',
      'balancers:\n  b: {service: api, ports: {80: 3000}}\nservices:\n  web: {}\n',
      /balancer b refers to unknown service api/
    ],
    [
      'balancer whitelist',
      'balancers:\n  b: {service: web, ports: {80: 3000}, whitelist: 10.0.0.0/33}\nservices:\n  web: {}\n',
      /whitelist 10\.0\.0\.0\/33 is not a valid cidr range/
    ],
    // balancer.go / yaml.go BalancerPort.SetName: ports are numbers.
    [
      'balancer port name',
      'balancers:\n  b: {service: web, ports: {http: 3000}}\nservices:\n  web: {}\n',
      /strconv\.Atoi: parsing "http"/
    ],
    // validate.go validateBudget.
    [
      'auto-shutdown without webhook',
      'budget: {atCapAction: auto-shutdown, monthlyCapUsd: 5}\nservices:\n  web: {}\n',
      /requires budget\.atCapWebhookUrl/
    ],
    [
      'grace period past 1h',
      'budget: {shutdownGracePeriod: 90m}\nservices:\n  web: {}\n',
      /between 0s and 1h; got 90m/
    ],
    [
      'grace period not a duration',
      'budget: {shutdownGracePeriod: "5"}\nservices:\n  web: {}\n',
      /must be a Go duration string/
    ],
    // validate.go validateTimers.
    [
      'timer of an unknown service',
      'timers:\n  t: {schedule: "0 * * * *", service: api}\nservices:\n  web: {}\n',
      /timer t references a service that does not exist: api/
    ],
    [
      'timer schedule with ?',
      'timers:\n  t: {schedule: "0 * * * 1?", service: web}\nservices:\n  web: {}\n',
      /schedule cannot contain \?/
    ],
    // yaml.go unmarshalMapSlice: names are strings or ints; `on` is a boolean to yaml.v2.
    [
      'service named on',
      'services:\n  on:\n    build: .\n',
      /2:3: services: unknown key type: bool/
    ],
    ['service named y', 'services:\n  y:\n    build: .\n', /unknown key type: bool/],
    // validate.go validateServices: deployment bounds, with manifest.go ApplyDefaults' defaults.
    [
      'deployment maximum',
      svc('deployment: {maximum: 300}'),
      /deployment maximum can not be greater than 200/
    ],
    [
      'deployment maximum set empty',
      svc('deployment: {maximum: ~}'),
      /deployment maximum can not be less than 100/
    ],
    [
      'internal and internalRouter',
      svc('internal: true\ninternalRouter: true'),
      /both internal and internalRouter/
    ],
    // yaml.go ServicePortScheme.UnmarshalYAML.
    ['port not a number', svc('port: abc'), /strconv\.Atoi: parsing "abc"/],
    // yaml.go ServiceScaleCount.UnmarshalYAML and validate.go validateServiceScale.
    ['scale 3+', svc('scale: 3+'), /strconv\.Atoi: parsing "3\+"/],
    ['scale max below min', svc('scale: {count: 3-1}'), /scale\.max must be >= scale\.min/],
    [
      'autoscale threshold',
      svc('scale: {min: 1, max: 3, autoscale: {cpu: {threshold: 500}}}'),
      /cpu\.threshold must be between 1 and 100/
    ],
    // manifest.go ApplyDefaults: limits.
    [
      'cpu limit below request',
      svc('scale: {cpu: 500, limit: {cpu: 100}}'),
      /cpu limit can not be less cpu request/
    ],
    // decode.go merge: a merge key needs a map.
    ['merge of a scalar', svc('<<: 1'), /map merge requires map or sequence of maps/],
    // A type mismatch anywhere in a service (decode.go terror).
    [
      'command as a list',
      svc('command: [a, b]'),
      /services\.web\.command: cannot unmarshal !!seq into string/
    ],
    ['drain not a number', svc('drain: x'), /cannot unmarshal !!str `x` into int/]
  ])('%s', (_name, text, why) => {
    const r = run(text)
    expect(r.errors?.join('\n')).toMatch(why)
  })
})

describe('the rack accepts it: so do we, building what it builds', () => {
  it.each([
    // yaml.v2 decode.go mappingSlice: a plain merge key in a MapSlice is dropped (warned).
    [
      'plain << in a service',
      'x: &b {image: redis}\nservices:\n  web:\n    <<: *b\n',
      [['web', '.']],
      /4: services\.web: the rack ignores a plain merge key/
    ],
    [
      'plain << under services',
      'x: &b {web: {image: redis}}\nservices:\n  <<: *b\n  api: {}\n',
      [['api', '.']],
      /the rack ignores a plain merge key/
    ],
    // yaml.go remarshal: a quoted "<<" is written back plain, then merged.
    [
      'quoted "<<" in a service',
      'x: &b {image: redis}\nservices:\n  web:\n    "<<": *b\n',
      [['web', 'redis']],
      null
    ],
    // yaml.v2 resolve + remarshal: `1.10` is the float 1.1, marshalled as 1.1 (warned).
    ['image: 1.10', svc('image: 1.10'), [['web', '1.1']], /image 1\.10 is a number to the rack/],
    ['image: 010', svc('image: 010'), [['web', '8']], /image 010 is a number/],
    // manifest.go ApplyDefaults: an empty image builds `.`.
    ['image: "" beside build', svc('build: app\nimage: ""'), [['web', 'app']], null],
    // buildkit.go Build: the image wins over build (warned).
    [
      'build and image',
      svc('build: app\nimage: redis'),
      [['web', 'redis']],
      /build is ignored because image is set/
    ],
    // invalid.2.yml: a misspelt section leaves no services; the rack builds nothing.
    ['servicess', 'servicess:\n  web: {}\n', [], /did you mean "services"/],
    // Missing app env is not a build error (the rack's build has the app's env).
    ['required env', svc('environment: [SECRET]'), [['web', '.']], null],
    // Unknown keys are ignored by yaml.v2.
    ['unknown keys', 'version: "2"\nservices:\n  web:\n    foo: [1]\n', [['web', '.']], null],
    // budget rule 3 only warns on the rack's stderr.
    [
      'neverAutoShutdown of an unknown service',
      'budget: {neverAutoShutdown: [api]}\nservices:\n  web: {}\n',
      [['web', '.']],
      null
    ]
  ])('%s', (_name, text, services, warning) => {
    const r = run(text)
    expect(r.errors).toBeUndefined()
    expect(r.services).toEqual(services)
    expect(r.warnings.join('\n')).toMatch(warning ?? /(?:)/)
  })
})

describe('prefixCounter (the scale rule counts a service’s scale attributes)', () => {
  it('counts as strings.HasPrefix over every attribute does', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-c.]{0,6}$/), { maxLength: 40 }),
        fc.stringMatching(/^[a-c.]{0,4}$/),
        (attrs, prefix) => {
          expect(prefixCounter(attrs)(prefix)).toBe(attrs.filter(a => a.startsWith(prefix)).length)
        }
      )
    )
  })
})
