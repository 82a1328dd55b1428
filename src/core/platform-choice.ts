// The platforms a run builds for, and why. A Convox 3.25 rack gives external builds no platform
// pin, so on a rack whose build nodes span amd64 and arm64 the builder must choose: the
// `platforms` input, else the app's BuildArch, else the builder's own platform.
//
// BuildArch (docs.convox.com/configuration/app-parameters/aws/BuildArch): an app parameter,
// `amd64` (x86) or `arm64` (ARM/Graviton), unset by default; it pins the app's build pods to
// build nodes of that architecture so that each app builds natively. The rack refuses any other
// value (provider/k8s/build.go BuildCreate: "invalid BuildArch: %s, must be amd64 or arm64").
import { UserError } from './errors.js'

/** The values BuildArch takes on a rack. */
export const BUILD_ARCHES = ['amd64', 'arm64'] as const

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/

/**
 * The `platforms` input as BuildKit takes it: trimmed, lowercased, `linux/` added to a bare
 * architecture (`arm64`), duplicates dropped, order kept (the first is the one whose entrypoint
 * the rack stores). Throws a UserError naming the input for anything else.
 */
export function normalisePlatforms(values: string[], input = 'platforms'): string[] {
  const out: string[] = []
  for (const raw of values) {
    const v = raw.trim().toLowerCase()
    if (v === '') continue
    const p = v.includes('/') ? v : `linux/${v}`
    if (!PLATFORM.test(p)) {
      throw new UserError({
        input,
        message: `"${raw.trim()}" is not a platform (os/arch[/variant], e.g. linux/arm64)`
      })
    }
    if (!out.includes(p)) out.push(p)
  }
  return out
}

export type PlatformSource = 'input' | 'build-arch' | 'builder'

export interface PlatformChoice {
  /** Given to BuildKit (`--opt platform` / `--platform`); empty: the builder's own platform. */
  platforms: string[]
  source: PlatformSource
  /** One line for the log and the summary, e.g. `platforms linux/arm64 (the app's BuildArch)`. */
  reason: string
}

export interface PlatformInputs {
  /** The `platforms` input, normalised (normalisePlatforms); empty when not set. */
  input: string[]
  /**
   * The app's BuildArch when registering on a rack (`arm64` or `linux/arm64`); '' when the app
   * has none; undefined when the run registers on no rack.
   */
  buildArch?: string
  /** The builder's own platform when known (for the reason line only). */
  builderPlatform?: string
}

/** Decides the run's platforms: the input, else the app's BuildArch, else the builder's. */
export function decidePlatforms(o: PlatformInputs): PlatformChoice {
  if (o.input.length > 0) {
    return {
      platforms: o.input,
      source: 'input',
      reason: `platforms ${o.input.join(',')} (the platforms input)`
    }
  }
  const arch = (o.buildArch ?? '')
    .trim()
    .toLowerCase()
    .replace(/^linux\//, '')
  if (arch !== '') {
    if (!(BUILD_ARCHES as readonly string[]).includes(arch)) {
      throw new UserError({
        input: 'platforms',
        message: `the app's BuildArch is "${o.buildArch}", which a rack refuses (amd64 or arm64): fix it with \`convox apps params set BuildArch=arm64\`, or set platforms`
      })
    }
    return {
      platforms: [`linux/${arch}`],
      source: 'build-arch',
      reason: `platforms linux/${arch} (the app's BuildArch)`
    }
  }
  const own = o.builderPlatform ? `${o.builderPlatform}, ` : ''
  return {
    platforms: [],
    source: 'builder',
    reason: `platforms: the builder's own (${own}no platforms input${o.buildArch === undefined ? '' : ' and no BuildArch on the app'})`
  }
}
