// `npm run generate`: writes the files generated from the settings table (scripts/inputs/
// render.ts). `npm run generate -- --check` writes nothing and fails when one is out of date.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { GENERATED } from './inputs/render.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const check = process.argv.includes('--check')
let stale = 0
for (const [file, generate] of Object.entries(GENERATED)) {
  const at = path.join(root, file)
  const text = readFileSync(at, 'utf8')
  const next = generate(text)
  if (next === text) continue
  if (check) {
    console.error(`${file} differs from src/core/inputs.ts: run npm run generate`)
    stale++
  } else {
    writeFileSync(at, next)
    console.log(`wrote ${file}`)
  }
}
process.exitCode = stale > 0 ? 1 : 0
