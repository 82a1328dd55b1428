import { it } from '@jest/globals'
import fs from 'node:fs'
import { parseManifest } from '../../src/core/manifest.js'
import { silentLogger } from '../../src/core/log.js'
const d = '__tests__/fixtures/manifests/'
it('prints', () => {
  const out: string[] = []
  for (const f of ['convox__convox__pkg_manifest_testdata_invalid.1.yml','convox__convox__pkg_manifest_testdata_invalid.2.yml','convox__convox__pkg_manifest_testdata_auto-shutdown-invalid-rule10a.yml','convox__convox__pkg_manifest_testdata_validate__invalid.yml']) {
    try { parseManifest(fs.readFileSync(d + f, 'utf8'), { file: 'convox.yml', env: {}, logger: silentLogger }); out.push(f + ' OK') } catch (e) { out.push(f + '\n' + (e as Error).message) }
  }
  const w: string[] = []
  const lg = { ...silentLogger, warning: (m: string, p?: object) => void w.push(m + ' ' + JSON.stringify(p)) }
  for (const t of ['services:\n  web:\n    image: redis:${TAG}\n', 'services:\n  web:\n    image: ${IMG}\n', 'services:\n  web:\n    build: ${B}\n  x:\n    build:\n      path: ${P}\n', 'a: ${X:-y}\nservices:\n  web:\n    image: "redis:${TAG}-alpine"\n', 'services:\n  web: [\n', 'services:\n  a: 1\n  a: 2\n  b:\n    image: x\n    image: y\n', 'x: ${A}${B}\nservices:\n  web:\n    image: ${A}${B}redis\n']) {
    try { parseManifest(t, { file: 'convox.yml', env: {}, logger: lg }); out.push('OK') } catch (e) { out.push((e as Error).message) }
  }
  console.log(out.join('\n---\n') + '\n' + w.join('\n'))
})
