// The rack's manifest types (convox/convox pkg/manifest: manifest.go, service.go, balancer.go,
// resource.go, timer.go, config.go, app_settings.go) and their UnmarshalYAML methods (yaml.go),
// as yaml.v2 decodes them. Only what decides whether Load fails, and what builds and Validate use,
// is kept of the decoded values.
import {
  AT,
  BOOL,
  Decoder,
  expand,
  FLOAT,
  INT,
  INT32,
  ptr,
  remarshal,
  slice,
  str,
  STRING,
  stringMap,
  STRINGS,
  struct,
  type GoType,
  type Rec
} from './decode.js'
import { goFloatText, goTypeName, LIMITS, type GScalar, type GVal } from './yaml.js'

/** A name-keyed item of a MapSlice (services, resources, balancers, timers, balancer ports). */
export interface Named<T> {
  name: string
  /** Offset of its key. */
  at: number
  /** Offset of its value. */
  valueAt: number
  value: T
}

export function atOf(r: unknown, key?: string): number | undefined {
  const pos = (r as Rec | undefined)?.[AT] as Record<string, number> | undefined
  return pos?.[key ?? '']
}

/** strconv.Atoi: the number, or the rack's error text. */
function goAtoi(s: string): number | string {
  if (!/^[+-]?[0-9]+$/.test(s)) return `strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`
  const n = BigInt(s)
  if (n > LIMITS.INT64_MAX || n < -LIMITS.INT64_MAX - 1n) {
    return `strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`
  }
  return Number(n)
}

function isGoInt(v: GVal | undefined): v is GScalar & { int: bigint } {
  return v?.kind === 'int' && v.int !== undefined && v.int <= LIMITS.INT64_MAX
}

/** unmarshalMapSlice (yaml.go): ordered items, each value remarshalled into T, named by its key. */
function mapSlice<T>(
  v: GVal,
  d: Decoder,
  path: string,
  item: GoType,
  named: (name: string, key: GVal) => string | null = name => name
): Named<T>[] {
  const pairs: { key: GVal; value: GVal }[] = []
  if (v.kind === 'seq') {
    // A sequence decodes into MapSlice's items: maps with `key` and `value`.
    for (const i of v.items) {
      if (i.kind !== 'map') {
        d.typeError(i, 'yaml.MapItem', path)
        continue
      }
      const m = d.generic(i, path)
      const key = m.get(str('key')) ?? { kind: 'null', text: '', tag: '!!null', at: i.at }
      pairs.push({
        key,
        value: m.get(str('value')) ?? { kind: 'null', text: '', tag: '!!null', at: i.at }
      })
    }
  } else if (v.kind !== 'map') {
    d.typeError(v, 'yaml.MapSlice', path)
    return []
  } else {
    for (const e of v.entries) {
      // mappingSlice: a merge key's value is checked, then dropped.
      if (e.merge) d.mergeSources(e, path)
      else pairs.push(e)
    }
  }
  const out: Named<T>[] = []
  for (const { key, value } of pairs) {
    let name: string | null = null
    if (key.kind === 'str') name = key.text
    else if (isGoInt(key)) name = String(key.int)
    else
      d.fail(
        key.at,
        `${path}: unknown key type: ${goTypeName(key, true)} (a name must be a string)`
      )
    const label = `${path}.${name ?? (key.kind === 'map' || key.kind === 'seq' ? '?' : key.text)}`
    const decoded = d.decode(remarshal(value, d, label), item, label) as T
    if (name === null) continue
    const final = named(name, key)
    if (final === null) continue
    out.push({ name: final, at: key.at, valueAt: value.at, value: decoded ?? ({} as T) })
  }
  return out
}

// --- UnmarshalYAML methods (yaml.go) ------------------------------------------------------------

const custom = (
  name: string,
  decode: (v: GVal, d: Decoder, path: string) => unknown,
  appends = false
): GoType => ({
  k: 'custom',
  appends,
  name,
  decode
})

/** ServicePortScheme.UnmarshalYAML. */
const portScheme = custom('manifest.ServicePortScheme', (v, d, path) => {
  const out: { port: number; scheme: string } = { port: 0, scheme: '' }
  const fromString = (s: string, at: number): void => {
    const ps = s.split(':')
    let pp = ps[0] ?? ''
    if (ps.length > 1) {
      out.scheme = ps[0] ?? ''
      pp = ps[1] ?? ''
    }
    const n = goAtoi(pp)
    if (typeof n === 'string') d.fail(at, `${path}: ${n}`)
    else out.port = n
  }
  if (v.kind === 'map') {
    const t = d.generic(v, path)
    const p = t.get(str('port'))
    if (p && p.kind !== 'null') {
      if (isGoInt(p)) out.port = Number(p.int)
      else if (p.kind === 'str') fromString(p.text, p.at)
      else d.fail(p.at, `${path}: could not parse port`)
    }
    const scheme = t.get(str('scheme'))
    if (scheme && scheme.kind !== 'null') {
      // `scheme.(string)` on anything else panics in the rack.
      if (scheme.kind === 'str') out.scheme = scheme.text
      else
        d.fail(
          scheme.at,
          `${path}.scheme: must be a string (the rack crashes on ${goTypeName(scheme)})`
        )
    }
    if (out.port === 0) d.fail(v.at, `${path}: could not parse port (no port given)`)
  } else if (v.kind === 'str') fromString(v.text, v.at)
  else if (isGoInt(v)) out.port = Number(v.int)
  else d.fail(v.at, `${path}: invalid port: ${goTypeName(v)} (write a number or "scheme:port")`)
  if (out.scheme === 'grpc') out.scheme = 'GRPC'
  return out
})

/** ServicePortProtocol.UnmarshalYAML (the `ports` list). */
const portProtocol = custom('manifest.ServicePortProtocol', (v, d, path) => {
  if (v.kind === 'str') {
    const ps = v.text.split('/')
    const n = goAtoi(ps[0] ?? '')
    if (typeof n === 'string') d.fail(v.at, `${path}: ${n}`)
    return { port: typeof n === 'number' ? n : 0, protocol: ps[1] ?? '' }
  }
  if (isGoInt(v)) return { port: Number(v.int), protocol: 'tcp' }
  d.fail(v.at, `${path}: invalid port: ${goTypeName(v)}`)
  return undefined
})

/** Environment.UnmarshalYAML: a list of `NAME` / `NAME=default` (nested lists flattened). */
const environment = custom(
  'manifest.Environment',
  (v, d, path) => {
    if (v.kind !== 'seq') {
      d.fail(
        v.at,
        `${path}: unknown type for service environment: ${goTypeName(v)} (it must be a list of NAME or NAME=default)`
      )
      return []
    }
    const out: string[] = []
    for (const i of v.items) {
      if (i.kind === 'str') out.push(i.text)
      else if (i.kind === 'seq') for (const j of i.items) if (j.kind === 'str') out.push(j.text)
    }
    return out
  },
  true
)

/** ServiceAgent.UnmarshalYAML. */
const agent = custom('manifest.ServiceAgent', (v, d, path) => {
  if (v.kind === 'bool') return { enabled: v.bool === true }
  if (v.kind === 'map')
    d.fail(
      v.at,
      `${path}: agent ports are now specified at the service level (agent must be true or false)`
    )
  else
    d.fail(
      v.at,
      `${path}: could not parse agent: ${v.kind === 'seq' ? 'a list' : JSON.stringify((v as GScalar).text)} (agent must be true or false)`
    )
  return { enabled: false }
})

/** Annotations.UnmarshalYAML: a list of `key=value` strings or `key: value` maps. */
const annotations = custom('manifest.Annotations', (v, d, path) => {
  if (v.kind !== 'seq') {
    d.fail(
      v.at,
      `${path}: failed to unmarshal annotations: cannot unmarshal ${v.kind === 'map' ? '!!map' : (v as GScalar).tag} into []interface {}`
    )
    return []
  }
  for (const item of v.items) {
    if (item.kind === 'str') {
      if (!item.text.includes('='))
        d.fail(item.at, `${path}: invalid annotation format: ${item.text} (write key=value)`)
    } else if (item.kind === 'map') {
      d.entries(item, path, (key, value) => {
        if (key.kind !== 'str') d.fail(key.at, `${path}: annotation key is not a string`)
        else if (value.kind !== 'str')
          d.fail(value.at, `${path}: annotation value is not a string: ${key.text} (quote it)`)
      })
    } else d.fail(item.at, `${path}: unsupported annotation type: ${goTypeName(item)}`)
  }
  return []
})

/** ServiceBuild.UnmarshalYAML: a path, or a map of args, manifest and path. */
const serviceBuildFields = struct('manifest.serviceBuild', {
  args: STRINGS,
  manifest: STRING,
  path: STRING
})
const build = custom('manifest.ServiceBuild', (v, d, path) => {
  if (v.kind === 'map') return d.decode(expand(v, d, path), serviceBuildFields, path) ?? {}
  if (v.kind === 'str') return { path: v.text, [AT]: { path: v.at } }
  d.fail(
    v.at,
    `${path}: unknown type for service build: ${goTypeName(v)} (write the path as a string, or a map with path and manifest)`
  )
  return {}
})

/** ServiceDomains.UnmarshalYAML: a list, or a comma-separated string. */
const domains = custom('manifest.ServiceDomains', (v, d, path) => {
  if (v.kind === 'seq') {
    for (const s of v.items)
      if (s.kind !== 'str')
        d.fail(s.at, `${path}: unknown type for service domain: ${goTypeName(s)}`)
  } else if (v.kind !== 'str')
    d.fail(v.at, `${path}: unknown type for service domain: ${goTypeName(v)}`)
  return []
})

/** ServiceHealth.UnmarshalYAML: a path, or a map whose port is a ServicePortScheme. */
const health = custom('manifest.ServiceHealth', (v, d, path) => {
  if (v.kind === 'map') {
    const p = d.generic(v, path).get(str('port'))
    if (p && p.kind !== 'null') d.decode(expand(p, d, path), portScheme, `${path}.port`)
  } else if (v.kind !== 'str')
    d.fail(v.at, `${path}: unknown type for service health: ${goTypeName(v)}`)
  return {}
})

/** ServiceScaleCount.UnmarshalYAML: `n`, `min-max`, or a map of min and max. */
const scaleCount = custom('manifest.ServiceScaleCount', (v, d, path) => {
  const bad = (at: number, why = ''): undefined => {
    d.fail(at, `${path}: invalid scale${why}`)
    return undefined
  }
  const atoi = (s: string, at: number): number | undefined => {
    const n = goAtoi(s)
    if (typeof n === 'string') {
      d.fail(at, `${path}: ${n}`)
      return undefined
    }
    return n
  }
  if (isGoInt(v)) return { min: Number(v.int), max: Number(v.int) }
  if (v.kind === 'str') {
    const parts = v.text.split('-')
    if (parts.length === 1) {
      const n = atoi(parts[0] ?? '', v.at)
      return n === undefined ? undefined : { min: n, max: n }
    }
    if (parts.length === 2) {
      const a = atoi(parts[0] ?? '', v.at)
      const b = a === undefined ? undefined : atoi(parts[1] ?? '', v.at)
      return a === undefined || b === undefined ? undefined : { min: a, max: b }
    }
    return bad(v.at, `: ${v.text} (write n or min-max)`)
  }
  if (v.kind === 'map') {
    const t = d.generic(v, path)
    const out = { min: 0, max: 0 }
    for (const k of ['min', 'max'] as const) {
      const x = t.get(str(k))
      if (!x || x.kind === 'null') continue
      if (isGoInt(x)) out[k] = Number(x.int)
      else if (x.kind === 'str') {
        const n = atoi(x.text, x.at)
        if (n === undefined) return undefined
        out[k] = n
      } else return bad(x.at)
    }
    return out
  }
  return bad(v.at, `: ${goTypeName(v)}`)
})

/** ServiceScaleGpu.UnmarshalYAML. */
const scaleGpu = custom('manifest.ServiceScaleGpu', (v, d, path) => {
  if (v.kind === 'map') {
    const c = d.generic(v, path).get(str('count'))
    return { count: isGoInt(c) ? Number(c.int) : 0 }
  }
  if (isGoInt(v)) return { count: Number(v.int) }
  d.fail(v.at, `${path}: unknown type for service scale gpu: ${goTypeName(v)}`)
  return { count: 0 }
})

const scaleMetric = struct('manifest.ServiceScaleMetric', {
  aggregate: STRING,
  dimensions: stringMap('map[string]string'),
  namespace: STRING,
  name: STRING,
  value: FLOAT
})
const scaleTargets = struct('manifest.ServiceScaleTargets', {
  cpu: INT,
  custom: { k: 'map', elem: scaleMetric, name: 'map[string]manifest.ServiceScaleMetric' },
  external: slice(
    struct('manifest.ServiceScaleExternalMetric', {
      averageValue: ptr(FLOAT),
      matchLabels: stringMap('map[string]string'),
      name: STRING,
      value: ptr(FLOAT)
    })
  ),
  memory: INT,
  requests: INT
})
const vpa = struct('manifest.VPA', {
  updateMode: STRING,
  minCpu: ptr(STRING),
  maxCpu: ptr(STRING),
  minMem: ptr(STRING),
  maxMem: ptr(STRING),
  cpuOnly: ptr(BOOL),
  memOnly: ptr(BOOL),
  updateRequestOnly: ptr(BOOL)
})
const limit = struct('manifest.ServiceResourceLimit', { cpu: INT, memory: INT })

// sigs.k8s.io/yaml (JSON rules, case-insensitive names) for KEDA and autoscale blocks.
const scaleTriggers = slice(
  struct('v1alpha1.ScaleTriggers', {
    type: STRING,
    name: STRING,
    useCachedMetrics: BOOL,
    metadata: stringMap('map[string]string'),
    authenticationRef: ptr(struct('v1alpha1.AuthenticationRef', { name: STRING, kind: STRING })),
    metricType: STRING
  })
)
const autoscaleMode = ptr(
  struct('manifest.AutoscaleMode', {
    mode: STRING,
    threshold: FLOAT,
    metricName: STRING,
    prometheusUrl: STRING,
    query: STRING
  })
)
const kedaType = struct('manifest.ServiceScaleKeda', {
  pollingInterval: ptr(INT32),
  initialCooldownPeriod: ptr(INT32),
  cooldownPeriod: ptr(INT32),
  idleReplicaCount: ptr(INT32),
  advanced: ptr(
    struct('v1alpha1.AdvancedConfig', {
      horizontalPodAutoscalerConfig: { k: 'any' },
      restoreToOriginalReplicaCount: BOOL,
      scalingModifiers: struct('v1alpha1.ScalingModifiers', {
        formula: STRING,
        target: STRING,
        activationTarget: STRING,
        metricType: STRING
      })
    })
  ),
  triggers: scaleTriggers,
  fallback: ptr(
    struct('v1alpha1.Fallback', { failureThreshold: INT32, replicas: INT32, behavior: STRING })
  )
})
const autoscaleType = struct('manifest.ServiceAutoscale', {
  cpu: autoscaleMode,
  memory: autoscaleMode,
  gpuUtilization: autoscaleMode,
  queueDepth: autoscaleMode,
  custom: scaleTriggers,
  cooldownPeriod: ptr(INT32),
  pollingInterval: ptr(INT32)
})

/** json.Unmarshal of the YAML turned into JSON (sigs.k8s.io/yaml), for the types above. */
function kyaml(v: GVal, t: GoType, d: Decoder, path: string): unknown {
  if (!d.step(v.at)) return undefined
  if (v.kind === 'null') return undefined
  const bad = (what: string): undefined => {
    const got =
      v.kind === 'map'
        ? 'object'
        : v.kind === 'seq'
          ? 'array'
          : v.kind === 'str'
            ? 'string'
            : v.kind === 'bool'
              ? 'bool'
              : 'number'
    d.fail(v.at, `${path}: json: cannot unmarshal ${got} into Go value of type ${what}`)
    return undefined
  }
  switch (t.k) {
    case 'ptr':
      return kyaml(v, t.elem, d, path)
    case 'any':
      return v
    case 'string':
      // A string target takes any scalar, turned into text.
      if (v.kind === 'map' || v.kind === 'seq') return bad('string')
      if (v.kind === 'float') return goFloatText(v.float ?? 0)
      return v.text
    case 'int': {
      const max = t.bits === 32 ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER
      if (v.kind === 'int' && v.int !== undefined && Math.abs(Number(v.int)) <= max)
        return Number(v.int)
      if (v.kind === 'float' && Number.isInteger(v.float) && Math.abs(v.float ?? 0) <= max)
        return v.float
      return bad(t.bits === 32 ? 'int32' : 'int')
    }
    case 'float':
      if (v.kind === 'int') return Number(v.int)
      if (v.kind === 'float') {
        if (!Number.isFinite(v.float)) {
          d.fail(v.at, `${path}: json: unsupported value: ${goFloatText(v.float ?? 0)}`)
          return undefined
        }
        return v.float
      }
      return bad('float64')
    case 'bool':
      return v.kind === 'bool' ? v.bool : bad('bool')
    case 'slice':
      if (v.kind !== 'seq') return bad(t.name ?? '[]')
      return v.items.map((i, n) => kyaml(i, t.elem, d, `${path}[${n}]`))
    case 'map': {
      if (v.kind !== 'map') return bad(t.name)
      for (const e of v.entries) kyaml(e.value, t.elem, d, `${path}.${keyText(e.key)}`)
      return {}
    }
    case 'struct': {
      if (v.kind !== 'map') return bad(t.name)
      const pos: Record<string, number> = { '': v.at }
      const out: Rec = { [AT]: pos }
      const names = Object.keys(t.fields)
      for (const e of v.entries) {
        const k = keyText(e.key).toLowerCase()
        const name = names.find(n => n.toLowerCase() === k)
        if (!name) continue
        pos[name] = e.value.at
        out[name] = kyaml(e.value, t.fields[name]!, d, `${path}.${name}`)
      }
      return out
    }
    case 'custom':
      return t.decode(v, d, path)
  }
}

function keyText(k: GVal): string {
  if (k.kind === 'float') return goFloatText(k.float ?? 0)
  return k.kind === 'map' || k.kind === 'seq' ? '' : k.text
}

export interface Scale {
  count: { min: number; max: number }
  cpu: number
  memory: number
  gpu: { count: number }
  limit: { cpu: number; memory: number }
  min?: number
  max?: number
  autoscale?: Rec
  keda?: Rec
}

/** scaleBoundInt (yaml.go): an int, or a float with no fraction. */
function scaleBound(v: GVal | undefined): number | undefined {
  if (isGoInt(v)) return Number(v.int)
  if (v?.kind === 'float' && Number.isFinite(v.float) && Number.isInteger(v.float)) return v.float
  return undefined
}

/** ServiceScale.UnmarshalYAML. */
const scale = custom('manifest.ServiceScale', (v, d, path): Scale => {
  const out: Scale = {
    count: { min: 0, max: 0 },
    cpu: 0,
    memory: 0,
    gpu: { count: 0 },
    limit: { cpu: 0, memory: 0 }
  }
  const sub = (x: GVal, t: GoType, p: string): unknown => d.decode(expand(x, d, p), t, p)
  if (isGoInt(v)) {
    out.count = { min: Number(v.int), max: Number(v.int) }
  } else if (v.kind === 'str') {
    out.count = (sub(v, scaleCount, path) as Scale['count'] | undefined) ?? out.count
  } else if (v.kind === 'map') {
    const t = d.generic(v, path)
    const get = (k: string): GVal | undefined => {
      const x = t.get(str(k))
      return x && x.kind !== 'null' ? x : undefined
    }
    const c = get('count')
    if (c)
      out.count = (sub(c, scaleCount, `${path}.count`) as Scale['count'] | undefined) ?? out.count
    const cpu = get('cpu')
    if (isGoInt(cpu)) out.cpu = Number(cpu.int)
    const gpu = get('gpu')
    if (gpu) out.gpu = sub(gpu, scaleGpu, `${path}.gpu`) as Scale['gpu']
    const memory = get('memory')
    if (isGoInt(memory)) out.memory = Number(memory.int)
    const targets = get('targets')
    if (targets) sub(targets, scaleTargets, `${path}.targets`)
    const keda = get('keda')
    if (keda)
      out.keda =
        (kyaml(expand(keda, d, path), kedaType, d, `${path}.keda`) as Rec | undefined) ?? {}
    out.min = scaleBound(t.get(str('min')))
    out.max = scaleBound(t.get(str('max')))
    if (t.has(str('autoscale'))) {
      const a = t.get(str('autoscale'))!
      out.autoscale =
        (kyaml(expand(a, d, path), autoscaleType, d, `${path}.autoscale`) as Rec | undefined) ?? {}
    }
    const vp = get('vpa')
    if (vp) sub(vp, vpa, `${path}.vpa`)
    const l = get('limit')
    if (l) {
      const lim = sub(l, limit, `${path}.limit`) as { cpu?: number; memory?: number } | undefined
      out.limit = { cpu: lim?.cpu ?? 0, memory: lim?.memory ?? 0 }
    }
  } else {
    d.fail(v.at, `${path}: unknown type for service scale: ${goTypeName(v)}`)
  }
  return out
})

// --- Types -----------------------------------------------------------------------------------------

const configMount = struct('manifest.ConfigMount', { id: STRING, dir: STRING, filename: STRING })
const volumeOption = struct('manifest.VolumeOption', {
  emptyDir: ptr(
    struct('manifest.VolumeEmptyDir', {
      id: STRING,
      medium: STRING,
      mountPath: STRING,
      sizeLimit: STRING
    })
  ),
  awsEfs: ptr(
    struct('manifest.VolumeAwsEfs', {
      id: STRING,
      accessMode: STRING,
      mountPath: STRING,
      storageClass: STRING,
      volumeHandle: STRING
    })
  ),
  azureFiles: ptr(
    struct('manifest.VolumeAzureFiles', {
      id: STRING,
      accessMode: STRING,
      mountPath: STRING,
      shareSize: STRING
    })
  )
})
const labels = stringMap('manifest.Labels')
const liveness = struct('manifest.ServiceLiveness', {
  grace: INT,
  interval: INT,
  path: STRING,
  port: portScheme,
  timeout: INT,
  successThreshold: INT,
  failureThreshold: INT
})

export const SERVICE = struct('manifest.Service', {
  agent,
  annotations,
  build,
  certificate: struct('manifest.Certificate', { id: STRING, duration: STRING }),
  command: STRING,
  configMounts: slice(configMount, 'manifest.ConfigMounts'),
  deployment: struct('manifest.ServiceDeployment', { maximum: INT, minimum: INT }),
  dnsConfig: struct('manifest.ServiceDnsConfig', { ndots: INT }),
  domain: domains,
  drain: INT,
  disableHostUsers: BOOL,
  environment,
  grpcHealthEnabled: BOOL,
  health,
  liveness,
  startupProbe: struct('manifest.ServiceStartupProbe', {
    grace: INT,
    interval: INT,
    path: STRING,
    tcpSocketPort: STRING,
    timeout: INT,
    successThreshold: INT,
    failureThreshold: INT
  }),
  image: STRING,
  imagePullSecrets: slice(
    struct('manifest.ServiceImagePullSecret', {
      registry: STRING,
      username: STRING,
      password: STRING,
      passwordEnv: STRING
    })
  ),
  init: BOOL,
  initContainer: ptr(
    struct('manifest.InitContainer', {
      image: STRING,
      command: STRING,
      volumeOptions: slice(volumeOption),
      configMounts: slice(configMount, 'manifest.ConfigMounts')
    })
  ),
  internal: BOOL,
  internalRouter: BOOL,
  ingressAnnotations: annotations,
  labels,
  nodeAffinityLabels: slice(
    struct('manifest.Affinity', { label: STRING, weight: INT, value: STRING }),
    'manifest.Affinities'
  ),
  nodeSelectorLabels: labels,
  lifecycle: struct('manifest.ServiceLifecycle', { preStop: STRING, postStart: STRING }),
  port: portScheme,
  ports: slice(portProtocol),
  privileged: BOOL,
  resources: STRINGS,
  securityContext: struct('manifest.ServiceSecurityContext', {
    runAsNonRoot: ptr(BOOL),
    runAsUser: ptr(INT),
    runAsGroup: ptr(INT),
    readOnlyRootFilesystem: ptr(BOOL),
    allowPrivilegeEscalation: ptr(BOOL),
    capabilities: ptr(
      struct('manifest.ServiceSecurityContextCapabilities', { add: STRINGS, drop: STRINGS })
    ),
    seccompProfile: STRING
  }),
  scale,
  singleton: BOOL,
  sticky: BOOL,
  termination: struct('manifest.ServiceTermination', { grace: INT }),
  test: STRING,
  timeout: INT,
  tls: struct('manifest.ServiceTls', { redirect: BOOL }),
  volumes: STRINGS,
  volumeOptions: slice(volumeOption),
  whitelist: STRING,
  accessControl: struct('manifest.AccessControlOptions', {
    awsPodIdentity: ptr(struct('manifest.AWSPodIdentityOptions', { policyArns: STRINGS }))
  })
})

/** BalancerPort.UnmarshalYAML: a target port, or a map of port and protocol. */
const balancerPort = custom('manifest.BalancerPort', (v, d, path) => {
  if (v.kind === 'map') {
    const r = d.decode(
      expand(v, d, path),
      struct('manifest.balancerPort', { protocol: STRING, port: INT }),
      path
    ) as Rec | undefined
    return { target: (r?.port as number | undefined) ?? 0 }
  }
  return { target: isGoInt(v) ? Number(v.int) : 0 }
})

const balancerPorts = custom(
  'manifest.BalancerPorts',
  (v, d, path) =>
    mapSlice<unknown>(v, d, path, balancerPort, (name, key) => {
      const n = goAtoi(name)
      if (typeof n === 'string') {
        d.fail(key.at, `${path}: ${n} (a balancer port is a number)`)
        return null
      }
      return name
    }),
  true
)

/** BalancerWhitelist.UnmarshalYAML: CIDR ranges, as a list or one string. */
const whitelist = custom('manifest.BalancerWhitelist', (v, d, path) => {
  if (v.kind === 'str') return [{ cidr: v.text, at: v.at }]
  if (v.kind === 'seq') {
    const out: { cidr: string; at: number }[] = []
    for (const s of v.items) {
      if (s.kind === 'str') out.push({ cidr: s.text, at: s.at })
      else {
        d.fail(
          s.at,
          `${path}: unknown type for balancer whitelist: []interface {} (every entry must be a string)`
        )
        return []
      }
    }
    return out
  }
  d.fail(v.at, `${path}: unknown type for balancer whitelist: ${goTypeName(v)}`)
  return []
})

const BALANCER = struct('manifest.Balancer', {
  annotations: slice(STRING, 'manifest.BalancerAnnotations'),
  ports: balancerPorts,
  service: STRING,
  whitelist
})
const RESOURCE = struct('manifest.Resource', {
  type: STRING,
  image: STRING,
  options: stringMap('map[string]string')
})
const TIMER = struct('manifest.Timer', {
  annotations: slice(STRING, 'manifest.ServiceAnnotations'),
  command: STRING,
  schedule: STRING,
  service: STRING,
  concurrency: STRING,
  parallelCount: INT
})

const mapSliceOf = (name: string, item: GoType): GoType =>
  custom(name, (v, d, path) => mapSlice(v, d, path, item), true)

export const MANIFEST = struct('manifest.Manifest', {
  appSettings: struct('manifest.AppSettings', {
    awsLogs: ptr(
      struct('manifest.ServiceLogsRetention', { cwRetention: INT, disableRetention: BOOL })
    )
  }),
  balancers: mapSliceOf('manifest.Balancers', BALANCER),
  budget: struct('manifest.BudgetSettings', {
    monthlyCapUsd: FLOAT,
    alertThresholdPercent: FLOAT,
    atCapAction: STRING,
    atCapWebhookUrl: STRING,
    pricingAdjustment: FLOAT,
    neverAutoShutdown: STRINGS,
    shutdownOrder: STRING,
    notifyBeforeMinutes: INT,
    shutdownGracePeriod: STRING,
    recoveryMode: STRING
  }),
  configs: slice(
    struct('manifest.AppConfig', { id: STRING, name: STRING, value: ptr(STRING) }),
    'manifest.AppConfigs'
  ),
  environment,
  labels,
  params: stringMap('manifest.Params'),
  resources: mapSliceOf('manifest.Resources', RESOURCE),
  services: mapSliceOf('manifest.Services', SERVICE),
  timers: mapSliceOf('manifest.Timers', TIMER)
})
