// What the rack's Load does after decoding (manifest.go: ApplyCompatibility, ApplyDefaults,
// CombineLabels) and what its Validate checks (validate.go, service.go Validate methods), on the
// values schema.ts decoded. Missing app environment (`required env: X`) is left out on purpose:
// the rack's build has the app's env, a CI runner does not, and it is no build error.
import { isIP } from 'node:net'
import type { Decoder, Rec } from './decode.js'
import { atOf, type Named, type Scale } from './schema.js'
import type { GVal } from './yaml.js'

export interface RackProblem {
  at: number
  message: string
}

/** validate.go NameValidator. */
const NAME = /^[a-z][a-z0-9-]*$/
const NAME_RULE = 'must contain only lowercase alphanumeric and dashes'
const RESERVED_LABELS = new Set(['system', 'rack', 'app', 'name', 'service', 'release', 'type'])

export interface Decoded {
  manifest: Rec
  services: Named<Rec>[]
  /** Offset of the document (for problems with no better place). */
  at: number
}

/** yamlAttributes (yaml.go): the dotted key paths the document has, merges expanded. */
export function attributes(root: GVal | null, d: Decoder): Set<string> {
  const out = new Set<string>()
  const walk = (v: GVal, prefix: string, depth: number): void => {
    if (v.kind !== 'map' || depth > 64) return
    // Each level below the top is marshalled and read again (yamlAttributes recurses on text).
    for (const e of d.lastEntries(v, '', { marshalled: depth > 0 }).values()) {
      const k = e.key
      let name: string
      if (k.kind === 'str') name = k.text
      else if (k.kind === 'int' && k.int !== undefined) name = String(k.int)
      else continue
      const p = prefix + name
      out.add(p)
      walk(e.value, p + '.', depth + 1)
    }
  }
  if (root) walk(root, '', 0)
  return out
}

/**
 * How many attributes start with a prefix (the rack's strings.HasPrefix count), by a binary search
 * over them sorted: once per service, so a scan of every attribute each time would be quadratic.
 */
export function prefixCounter(attrs: Iterable<string>): (prefix: string) => number {
  const sorted = [...attrs].sort()
  return prefix => {
    let lo = 0
    let hi = sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (sorted[mid]! < prefix) lo = mid + 1
      else hi = mid
    }
    let n = 0
    while (lo + n < sorted.length && sorted[lo + n]!.startsWith(prefix)) n++
    return n
  }
}

function rec(v: unknown): Rec {
  return v && typeof v === 'object' ? (v as Rec) : {}
}
function s(v: unknown): string {
  return typeof v === 'string' ? v : ''
}
function n(v: unknown): number {
  return typeof v === 'number' ? v : 0
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

/** The rack's Load steps after decoding and its Validate, problems in its order. */
export function rackRules(decoded: Decoded, attrs: Set<string>): RackProblem[] {
  const problems: RackProblem[] = []
  const m = decoded.manifest
  const at = (r: unknown, key?: string): number => atOf(r, key) ?? decoded.at
  /** As at, but `fallback` where that would be the document's offset. */
  const atOr = (fallback: number, r: unknown, key?: string): number => {
    const where = at(r, key)
    return where === decoded.at ? fallback : where
  }
  const fail = (where: number, message: string): void => void problems.push({ at: where, message })
  const services = decoded.services
  const serviceNames = new Set(services.map(x => x.name))
  const has = (a: string): boolean => attrs.has(a)
  const countPrefixed = prefixCounter(attrs)

  // ApplyDefaults: resource requests and limits.
  for (const svc of services) {
    const sc = rec(svc.value.scale) as unknown as Scale
    if (!sc.count) continue
    let cpu = sc.cpu
    let memory = sc.memory
    if (sc.gpu.count === 0) {
      if (cpu === 0) cpu = sc.limit.cpu > 0 ? sc.limit.cpu : 250
      if (memory === 0) memory = sc.limit.memory > 0 ? sc.limit.memory : 512
    }
    const where = at(svc.value, 'scale')
    if (sc.limit.cpu > 0 && sc.limit.cpu < cpu) {
      fail(
        where,
        `service ${svc.name}: cpu limit can not be less cpu request (scale.limit.cpu ${sc.limit.cpu} < scale.cpu ${cpu})`
      )
    }
    if (sc.limit.memory > 0 && sc.limit.memory < memory) {
      fail(
        where,
        `service ${svc.name}: memory limit can not be less memory request (scale.limit.memory ${sc.limit.memory} < scale.memory ${memory})`
      )
    }
  }

  // CombineLabels.
  for (const [owner, parent] of [
    ['labels', m] as const,
    ...services.map(x => [`services.${x.name}.labels`, x.value] as const)
  ]) {
    for (const k of Object.keys(rec(parent.labels))) {
      if (RESERVED_LABELS.has(k)) {
        fail(at(parent, 'labels'), `${owner}: reserved label key '${k}' is not allowed`)
      }
    }
  }

  // Validate: configs.
  const configs = list(m.configs).map(rec)
  const firstBad = configs.find(c => s(c.id) === '')
  if (firstBad) fail(at(firstBad), 'configs[*].id is required')
  const configIds = new Set(configs.map(c => s(c.id)))

  // Balancers.
  for (const b of list(m.balancers) as Named<Rec>[]) {
    const where = b.at
    if (list(b.value.ports).length === 0) fail(where, `balancer ${b.name} has no ports`)
    const svc = s(b.value.service)
    if (svc === '') fail(where, `balancer ${b.name} has blank service`)
    else if (!serviceNames.has(svc)) {
      fail(at(b.value, 'service'), `balancer ${b.name} refers to unknown service ${svc}`)
    }
    for (const w of list(b.value.whitelist) as { cidr: string; at: number }[]) {
      if (!isCidr(w.cidr))
        fail(w.at, `balancer ${b.name} whitelist ${w.cidr} is not a valid cidr range`)
    }
  }

  budgetRules(rec(m.budget), services.length === 0, serviceNames, at, fail)

  // Resources.
  for (const r of list(m.resources) as Named<Rec>[]) {
    if (!NAME.test(r.name)) fail(r.at, `resource name ${r.name} invalid, ${NAME_RULE}`)
    if (s(r.value.type).trim() === '') fail(r.at, `resource "${r.name}" has blank type`)
  }
  const resourceNames = new Set((list(m.resources) as Named<Rec>[]).map(r => r.name))

  // Services.
  for (const svc of services) {
    const v = svc.value
    const name = svc.name
    const agent = rec(v.agent).enabled === true
    const singleton = v.singleton === true
    const dep = rec(v.deployment)
    const dmax = has(`services.${name}.deployment.maximum`)
      ? n(dep.maximum)
      : agent || singleton
        ? 100
        : 200
    const dmin = has(`services.${name}.deployment.minimum`)
      ? n(dep.minimum)
      : agent || singleton
        ? 0
        : 50
    const dAt = atOr(svc.at, dep)
    if (!NAME.test(name)) fail(svc.at, `service name ${name} invalid, ${NAME_RULE}`)
    if (dmin < 0) fail(dAt, `service ${name} deployment minimum can not be less than 0`)
    if (dmin > 100) fail(dAt, `service ${name} deployment minimum can not be greater than 100`)
    if (dmax < 100) fail(dAt, `service ${name} deployment maximum can not be less than 100`)
    if (dmax > 200) fail(dAt, `service ${name} deployment maximum can not be greater than 200`)
    if (v.internal === true && v.internalRouter === true) {
      fail(svc.at, `service ${name} can not have both internal and internalRouter set as true`)
    }
    for (const r of list(v.resources)) {
      const rn = s(r).split(':')[0] ?? ''
      if (!resourceNames.has(rn)) {
        fail(at(v, 'resources'), `service ${name} references a resource that does not exist: ${rn}`)
      }
    }
    for (const vo of list(v.volumeOptions).map(rec)) {
      const why = volumeOptionProblem(vo)
      if (why) fail(at(vo), `service ${name}: ${why}`)
    }
    const sec = securityContextProblem(rec(v.securityContext))
    if (sec) fail(at(v, 'securityContext'), `service ${name}: ${sec}`)
    const seen = new Map<string, number>()
    list(v.imagePullSecrets).forEach((raw, i) => {
      const ips = rec(raw)
      const why = pullSecretProblem(ips)
      if (why) return fail(at(ips), `service ${name} imagePullSecrets[${i}]: ${why}`)
      const reg = s(ips.registry).toLowerCase()
      const prev = seen.get(reg)
      if (prev !== undefined) {
        return fail(
          at(ips),
          `service ${name} imagePullSecrets[${i}]: duplicate registry "${s(ips.registry)}" (also declared at index ${prev}); each registry may be declared at most once per service`
        )
      }
      seen.set(reg, i)
    })
    for (const cm of list(v.configMounts).map(rec)) {
      if (s(cm.id) === '') fail(at(cm), `service ${name}: configMounts[*].id is required`)
      else if (s(cm.dir) === '') fail(at(cm), `service ${name}: configMounts[*].dir is required`)
      else if (s(cm.filename) === '')
        fail(at(cm), `service ${name}: configMounts[*].filename is required`)
      if (!configIds.has(s(cm.id)))
        fail(at(cm), `service ${name}: config id: '${s(cm.id)}' not found`)
    }
    scaleRules(svc, agent, attrs, countPrefixed, atOr(svc.at, v, 'scale'), fail)
  }

  // Timers (schedules as ApplyCompatibility leaves them: `?` fields become `*`, 5 fields kept).
  for (const t of list(m.timers) as Named<Rec>[]) {
    if (!NAME.test(t.name)) fail(t.at, `timer name ${t.name} invalid, ${NAME_RULE}`)
    const svc = s(t.value.service)
    if (!serviceNames.has(svc)) {
      fail(
        atOr(t.at, t.value, 'service'),
        `timer ${t.name} references a service that does not exist: ${svc}`
      )
    }
    const schedule = s(t.value.schedule)
      .split(/[\s\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/)
      .filter(x => x !== '')
      .slice(0, 5)
      .map(x => (x.trim() === '?' ? '*' : x))
      .join(' ')
    if (schedule.includes('?'))
      fail(at(t.value, 'schedule'), `timer ${t.name} invalid, schedule cannot contain ?`)
  }
  return problems
}

function scaleRules(
  svc: Named<Rec>,
  agent: boolean,
  attrs: Set<string>,
  countPrefixed: (prefix: string) => number,
  where: number,
  fail: (at: number, message: string) => void
): void {
  const sc = rec(svc.value.scale) as unknown as Partial<Scale>
  const name = svc.name
  const a = sc.autoscale ? rec(sc.autoscale) : undefined
  const autoscale =
    !!a &&
    (!!a.cpu || !!a.memory || !!a.gpuUtilization || !!a.queueDepth || list(a.custom).length > 0)
  const keda = !!sc.keda && list(rec(sc.keda).triggers).length > 0
  // ApplyDefaults: the effective count.
  const count = { ...(sc.count ?? { min: 0, max: 0 }) }
  if (sc.min !== undefined && sc.max !== undefined) {
    count.min = sc.min
    count.max = sc.max
  } else if (sc.min !== undefined) {
    count.min = sc.min
    if (autoscale) {
      if (count.max === 0) count.max = 10
    } else count.max = sc.min
  } else if (sc.max !== undefined) {
    count.max = sc.max
    if (count.min === 0 && !autoscale) count.min = sc.max
  }
  if (autoscale && count.max === 0) count.max = 10
  const sp = `services.${name}.scale`
  const scaleAttrs = countPrefixed(sp)
  if (scaleAttrs === 0) {
    count.min = 1
    count.max = 1
  }
  if (
    !attrs.has(`${sp}.count`) &&
    scaleAttrs > 1 &&
    !autoscale &&
    sc.min === undefined &&
    sc.max === undefined
  ) {
    count.min = 1
    count.max = 1
  }
  // validateServiceScale.
  if (agent && (autoscale || keda)) return
  const p = `service ${name}`
  if (count.min < 0) fail(where, `${p}: scale.min must be >= 0`)
  if (count.max < 0) fail(where, `${p}: scale.max must be >= 0`)
  if (count.max < count.min) fail(where, `${p}: scale.max must be >= scale.min`)
  if (!autoscale || !a) return
  if (count.max < 1) fail(where, `${p}: scale.max must be >= 1 when autoscale is enabled`)
  if (count.max === count.min && count.max >= 1) {
    fail(
      where,
      `${p}: scale.max must be > scale.min when autoscale is enabled (ScaledObject would be a no-op)`
    )
  }
  const pct = (x: unknown): boolean => {
    const t = rec(x).threshold
    const v = typeof t === 'number' ? t : 0
    return Number.isNaN(v) || v <= 0 || v > 100
  }
  const aAt = (k: string): number => atOf(a, k) ?? where
  if (a.cpu && pct(a.cpu))
    fail(aAt('cpu'), `${p}: scale.autoscale.cpu.threshold must be between 1 and 100`)
  if (a.memory && pct(a.memory))
    fail(aAt('memory'), `${p}: scale.autoscale.memory.threshold must be between 1 and 100`)
  if (a.gpuUtilization) {
    if (pct(a.gpuUtilization))
      fail(
        aAt('gpuUtilization'),
        `${p}: scale.autoscale.gpuUtilization.threshold must be > 0 and <= 100`
      )
    if ((sc.gpu?.count ?? 0) === 0)
      fail(
        aAt('gpuUtilization'),
        `${p}: scale.autoscale.gpuUtilization requires scale.gpu.count >= 1`
      )
  }
  if (a.queueDepth) {
    const t = rec(a.queueDepth).threshold
    const v = typeof t === 'number' ? t : 0
    if (Number.isNaN(v) || v <= 0)
      fail(aAt('queueDepth'), `${p}: scale.autoscale.queueDepth.threshold must be > 0`)
  }
  for (const field of ['cpu', 'memory', 'gpuUtilization', 'queueDepth']) {
    const mode = a[field] ? rec(a[field]) : undefined
    if (!mode) continue
    const url = s(mode.prometheusUrl)
    if (url !== '') {
      const why = prometheusUrlProblem(url)
      if (why) fail(aAt(field), `${p}: scale.autoscale.${field}.prometheusUrl ${why}`)
    }
    const metric = s(mode.metricName)
    if (metric !== '' && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric)) {
      fail(
        aAt(field),
        `${p}: scale.autoscale.${field}.metricName "${metric}" must match ^[a-zA-Z_:][a-zA-Z0-9_:]*$`
      )
    }
  }
  list(a.custom).forEach((raw, i) => {
    const t = rec(raw)
    const tn = s(t.name)
    if (tn !== '' && !NAME.test(tn))
      fail(aAt('custom'), `${p}: scale.autoscale.custom[${i}].name "${tn}" invalid, ${NAME_RULE}`)
    if (tn.toLowerCase().startsWith('convox-')) {
      fail(
        aAt('custom'),
        `${p}: scale.autoscale.custom[${i}].name: "${tn}" uses reserved prefix 'convox-'`
      )
    }
    if (s(rec(t.authenticationRef).kind) === 'ClusterTriggerAuthentication') {
      fail(
        aAt('custom'),
        `${p}: scale.autoscale.custom[${i}].authenticationRef.kind: ClusterTriggerAuthentication is not permitted`
      )
    }
  })
  const toZero =
    !!a.gpuUtilization ||
    !!a.queueDepth ||
    list(a.custom).some(t => !['cpu', 'memory', 'cron'].includes(s(rec(t).type).toLowerCase()))
  if (count.min === 0 && !toZero) {
    fail(
      where,
      `${p}: scale.min: 0 combined with only always-active autoscale triggers (cpu/memory/cron) will never scale to zero; add scale.autoscale.queueDepth, scale.autoscale.gpuUtilization, or a scale.autoscale.custom[] prometheus/external trigger, or raise scale.min to 1`
    )
  }
}

function budgetRules(
  b: Rec,
  noServices: boolean,
  serviceNames: Set<string>,
  at: (r: unknown, key?: string) => number,
  fail: (at: number, message: string) => void
): void {
  const action = s(b.atCapAction)
  const never = list(b.neverAutoShutdown).map(s)
  if (
    action === '' &&
    n(b.monthlyCapUsd) === 0 &&
    s(b.atCapWebhookUrl) === '' &&
    never.length === 0 &&
    s(b.shutdownOrder) === '' &&
    n(b.notifyBeforeMinutes) === 0 &&
    s(b.shutdownGracePeriod) === '' &&
    s(b.recoveryMode) === ''
  ) {
    return
  }
  const w = (k: string): number => at(b, k)
  if (action !== '' && !['alert-only', 'block-new-deploys', 'auto-shutdown'].includes(action)) {
    fail(
      w('atCapAction'),
      `budget.atCapAction must be one of "alert-only", "block-new-deploys", "auto-shutdown"; got "${action}"`
    )
  }
  const auto = action === 'auto-shutdown'
  if (auto && s(b.atCapWebhookUrl).trim() === '') {
    fail(
      w('atCapAction'),
      'budget.atCapAction "auto-shutdown" requires budget.atCapWebhookUrl to be set; auto-shutdown silently killing services without notification is rejected by design'
    )
  }
  if (auto && !(n(b.monthlyCapUsd) > 0)) {
    fail(
      w('atCapAction'),
      'budget.atCapAction "auto-shutdown" requires budget.monthlyCapUsd > 0; cannot shut down on cap breach without a cap'
    )
  }
  const notify = n(b.notifyBeforeMinutes)
  if (notify !== 0 && (notify < 5 || notify > 1440)) {
    fail(
      w('notifyBeforeMinutes'),
      `budget.notifyBeforeMinutes must be between 5 and 1440; got ${notify}`
    )
  }
  const grace = s(b.shutdownGracePeriod)
  if (grace.trim() !== '') {
    const d = goDuration(grace)
    if (d === null) {
      fail(
        w('shutdownGracePeriod'),
        `budget.shutdownGracePeriod must be a Go duration string (e.g. "5m", "30s"); got "${grace}"`
      )
    } else if (d < 0 || d > 3600e9) {
      fail(
        w('shutdownGracePeriod'),
        `budget.shutdownGracePeriod must be between 0s and 1h; got ${grace}`
      )
    }
  }
  const order = s(b.shutdownOrder)
  if (order === 'priority-annotation') {
    fail(
      w('shutdownOrder'),
      'budget.shutdownOrder "priority-annotation" reserved for a future release; use "largest-cost" or "newest"'
    )
  } else if (order !== '' && order !== 'largest-cost' && order !== 'newest') {
    fail(
      w('shutdownOrder'),
      `budget.shutdownOrder must be one of "largest-cost", "newest"; got "${order}"`
    )
  }
  const recovery = s(b.recoveryMode)
  if (recovery === 'scheduled') {
    fail(
      w('recoveryMode'),
      'budget.recoveryMode "scheduled" reserved for 3.25.0; use "auto-on-reset" or "manual"'
    )
  } else if (recovery !== '' && recovery !== 'auto-on-reset' && recovery !== 'manual') {
    fail(
      w('recoveryMode'),
      `budget.recoveryMode must be one of "auto-on-reset", "manual"; got "${recovery}"`
    )
  }
  if (auto) {
    if (noServices) {
      fail(
        w('atCapAction'),
        'budget.atCapAction "auto-shutdown" requires at least one service in the services block; timer-only apps cannot be auto-shut. Use "block-new-deploys" or remove auto-shutdown.'
      )
    } else if ([...serviceNames].every(x => never.includes(x))) {
      fail(
        w('neverAutoShutdown'),
        'budget.atCapAction "auto-shutdown" with all services listed in neverAutoShutdown leaves no services eligible; either remove a service from neverAutoShutdown or use atCapAction "block-new-deploys"'
      )
    }
  }
}

/** time.ParseDuration: nanoseconds, or null when Go rejects it. */
function goDuration(text: string): number | null {
  let s = text
  let sign = 1
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1
    s = s.slice(1)
  }
  if (s === '0') return 0
  if (s === '') return null
  const units: Record<string, number> = {
    ns: 1,
    us: 1e3,
    µs: 1e3,
    μs: 1e3,
    ms: 1e6,
    s: 1e9,
    m: 60e9,
    h: 3600e9
  }
  let total = 0
  const re = /^([0-9]*)(\.([0-9]*))?([^0-9.]+)/
  while (s !== '') {
    const m = re.exec(s)
    if (!m || (m[1] === '' && (m[3] ?? '') === '')) return null
    const unit = units[m[4] ?? '']
    if (unit === undefined) {
      // The unit runs to the next digit or dot.
      return null
    }
    total += Number(`${m[1] || '0'}.${m[3] ?? ''}`.replace(/\.$/, '')) * unit
    s = s.slice(m[0].length)
  }
  if (total > 9.223372036854776e18) return null
  return sign * total
}

/** net.ParseCIDR. */
function isCidr(s: string): boolean {
  const i = s.indexOf('/')
  if (i < 0) return false
  const addr = s.slice(0, i)
  const bits = s.slice(i + 1)
  if (!/^[0-9]{1,3}$/.test(bits)) return false
  const b = Number(bits)
  const v = isIP(addr)
  if (v === 4) return /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)){3}$/.test(addr) && b <= 32
  if (v === 6) return !addr.includes('%') && b <= 128
  return false
}

function prometheusUrlProblem(raw: string): string | null {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/.exec(raw)
  const scheme = m ? (m[1] ?? '').toLowerCase() : ''
  // url.Parse refuses ASCII control characters.
  if ([...raw].some(c => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
    return 'is not a valid URL: invalid control character in URL'
  }
  if (scheme !== 'http' && scheme !== 'https')
    return `must use http or https scheme, got "${scheme}"`
  const rest = m?.[2] ?? ''
  const host = rest.startsWith('//')
    ? (rest.slice(2).split(/[/?#]/)[0] ?? '').replace(/^[^@]*@/, '')
    : ''
  if (host === '') return 'must include a host'
  return null
}

/** resource.ParseQuantity's accepted shapes. */
function isQuantity(s: string): boolean {
  return /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$/.test(s)
}

function quantityBytes(s: string): number {
  const m = /^([+-]?[0-9.]+)(.*)$/.exec(s)
  const v = Number(m?.[1] ?? 0)
  const suffix = m?.[2] ?? ''
  const bin: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60
  }
  const dec: Record<string, number> = {
    n: 1e-9,
    u: 1e-6,
    m: 1e-3,
    '': 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18
  }
  if (suffix in bin) return v * bin[suffix]!
  if (suffix in dec) return v * dec[suffix]!
  return v * 10 ** Number(suffix.slice(1))
}

function volumeOptionProblem(v: Rec): string | null {
  const modes = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce']
  if (v.emptyDir) {
    const e = rec(v.emptyDir)
    if (s(e.id) === '') return 'emptyDir.id is required'
    if (s(e.mountPath) === '') return 'emptyDir.mountPath is required'
    if (s(e.medium) !== '' && s(e.medium) !== 'Memory')
      return "emptyDir.medium's allowed values: Memory"
    if (s(e.sizeLimit) !== '' && !isQuantity(s(e.sizeLimit)))
      return `emptyDir.sizeLimit is not a valid quantity: ${s(e.sizeLimit)}`
    return null
  }
  if (v.awsEfs) {
    const e = rec(v.awsEfs)
    if (s(e.id) === '') return 'awsEfs.id is required'
    if (s(e.mountPath) === '') return 'awsEfs.mountPath is required'
    if (!modes.includes(s(e.accessMode)))
      return `awsEfs.accessMode must be one of these values: ${modes.join(', ')}`
    return null
  }
  if (v.azureFiles) {
    const e = rec(v.azureFiles)
    if (s(e.id) === '') return 'azureFiles.id is required'
    if (!NAME.test(s(e.id))) return `azureFiles.id must match ${NAME.source}`
    if (s(e.mountPath) === '') return 'azureFiles.mountPath is required'
    if (!modes.includes(s(e.accessMode)))
      return `azureFiles.accessMode must be one of these values: ${modes.join(', ')}`
    const size = s(e.shareSize)
    if (size !== '') {
      if (!isQuantity(size)) return `azureFiles.shareSize is invalid: ${size}`
      if (quantityBytes(size) < 100 * 2 ** 30)
        return 'azureFiles.shareSize must be at least 100Gi (Azure Premium NFS minimum)'
    }
  }
  return null
}

function securityContextProblem(c: Rec): string | null {
  const seccomp = s(c.seccompProfile)
  if (seccomp !== '' && seccomp !== 'RuntimeDefault' && seccomp !== 'Unconfined') {
    if (seccomp === 'Localhost') {
      return 'securityContext.seccompProfile: Localhost is not supported (no localhostProfile field); use RuntimeDefault or Unconfined'
    }
    return `securityContext.seccompProfile: "${seccomp}" is not a supported value; allowed: RuntimeDefault, Unconfined`
  }
  const caps = c.capabilities ? rec(c.capabilities) : undefined
  for (const kind of ['add', 'drop']) {
    for (const cap of list(caps?.[kind]).map(s)) {
      if (cap.startsWith('CAP_')) {
        return `securityContext.capabilities.${kind}: "${cap}" must not include CAP_ prefix (use "${cap.slice(4)}")`
      }
      if (!/^[A-Z][A-Z0-9_]*$/.test(cap)) {
        return `securityContext.capabilities.${kind}: "${cap}" is not a valid capability name (expected uppercase letters, digits, underscores)`
      }
    }
  }
  if (c.runAsNonRoot === true && c.runAsUser === 0) {
    return 'securityContext: runAsNonRoot=true is incompatible with runAsUser=0'
  }
  return null
}

function pullSecretProblem(p: Rec): string | null {
  const reg = s(p.registry)
  if (reg.trim() === '') return 'registry is required'
  if (reg.includes('://'))
    return `registry "${reg}" must not include a scheme (drop http:// or https://)`
  if (reg.includes('/')) return `registry "${reg}" must not include a path (use the host only)`
  if (reg !== reg.toLowerCase()) return `registry "${reg}" must be lowercase`
  const label = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
  if (!new RegExp(`^${label}(\\.${label})*(:[0-9]+)?$`).test(reg)) {
    return `registry "${reg}" is not a valid registry hostname`
  }
  if (s(p.username).trim() === '') return 'username is required'
  const pw = s(p.password) !== ''
  const env = s(p.passwordEnv) !== ''
  if (pw && env)
    return 'use passwordEnv to reference an env var, OR password for a literal value, not both'
  if (!pw && !env) return 'password or passwordEnv is required'
  return null
}
