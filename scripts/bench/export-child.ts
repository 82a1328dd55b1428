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
const started = performance.now()
await writeExport(
  out,
  buildRecord({ id: buildId, app: 'bench', started: new Date(), ended: new Date() }),
  [{ service: 'big', client, image: ref }],
  { tempDir: process.env.BENCH_TMP }
)
const ms = performance.now() - started
if (process.env.BENCH_PHASES) console.error(JSON.stringify(process.memoryUsage()))
console.log(JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS, baselineKiB }))
