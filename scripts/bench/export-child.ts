// Runs one export in its own process and prints its time and peak RSS as JSON (the benchmark's
// measured side). Arguments: <image ref> <output .tgz> <build id>; credentials from the env.
import { buildRecord } from '../../src/core/export/record.js'
import { writeExport } from '../../src/core/export/tarball.js'
import { RegistryClient } from '../../src/core/registry/client.js'
import { parseReference } from '../../src/core/registry/reference.js'

const [image = '', out = '', buildId = ''] = process.argv.slice(2)
const ref = parseReference(image)
const client = new RegistryClient({
  credentials: host =>
    host === ref.registry
      ? { username: process.env.BENCH_USERNAME ?? '', password: process.env.BENCH_PASSWORD ?? '' }
      : undefined
})
const baselineKiB = process.resourceUsage().maxRSS
const peaks = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }
const sampler = setInterval(() => {
  const m = process.memoryUsage()
  for (const k of Object.keys(peaks) as (keyof typeof peaks)[]) peaks[k] = Math.max(peaks[k], m[k])
}, 200)
const started = performance.now()
await writeExport(
  out,
  buildRecord({ id: buildId, app: 'bench', started: new Date(), ended: new Date() }),
  [{ service: 'big', client, image: ref }],
  { tempDir: process.env.BENCH_TMP }
)
const ms = performance.now() - started
clearInterval(sampler)
if (process.env.BENCH_PHASES) console.error(JSON.stringify(peaks))
console.log(JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS, baselineKiB }))
