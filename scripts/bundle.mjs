// `npm run bundle`: builds dist/, the committed code the runner and the `convox-build` bin
// execute. TypeScript is emitted by tsc (ES modules, as NodeNext gives them; types are checked
// by `npm run build`, not here), then @vercel/ncc bundles each entry with its dependencies and
// their licenses. Deterministic: the same sources give byte-identical files.
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ncc from '@vercel/ncc'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// Inside node_modules so the emitted files resolve their packages from the project's own.
const work = path.join(root, 'node_modules', '.cache', 'convox-build-bundle')

/** Entry point to output file, relative to the repository. */
export const ENTRIES = {
  'src/action/main.ts': 'index.js',
  'src/action/post.ts': 'post.js',
  'src/cli/main.ts': 'cli.js'
}

function emitJavaScript() {
  const tsconfig = path.join(work, 'tsconfig.json')
  const config = {
    extends: path.join(root, 'tsconfig.json'),
    compilerOptions: {
      noEmit: false,
      noCheck: true,
      outDir: path.join(work, 'out'),
      rootDir: root,
      sourceMap: false,
      declaration: false,
      types: ['node']
    },
    include: [path.join(root, 'src')]
  }
  return writeFile(tsconfig, JSON.stringify(config, null, 2)).then(() => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
    execFileSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' })
  })
}

/** Bundles every entry into outDir (default dist/), replacing what was there. */
export async function bundle(outDir = path.join(root, 'dist')) {
  await rm(work, { recursive: true, force: true })
  await mkdir(work, { recursive: true })
  await writeFile(path.join(work, 'package.json'), '{ "type": "module" }\n')
  await emitJavaScript()

  const licenses = new Map()
  const files = new Map()
  for (const [entry, file] of Object.entries(ENTRIES)) {
    const input = path.join(work, 'out', entry.replace(/\.ts$/, '.js'))
    const { code, assets } = await ncc(input, {
      cache: false,
      minify: false,
      sourceMap: false,
      license: 'licenses.txt',
      quiet: true,
      target: 'es2022'
    })
    files.set(file, code)
    for (const [name, asset] of Object.entries(assets)) {
      const text = asset.source.toString()
      if (name === 'licenses.txt') {
        // Sections are `<package>\n<license id>\n<text>`, separated by blank lines.
        for (const section of text.split(/\n\n(?=(?:@[\w.-]+\/)?[\w.-]+\n[\w.() -]+\n)/)) {
          if (section.trim()) licenses.set(section.split('\n', 1)[0], section.trim())
        }
        continue
      }
      // Assets of different entries share dist/: the same name must hold the same bytes.
      if (files.has(name) && files.get(name) !== text) {
        throw new Error(`bundle: two entries emit different ${name}`)
      }
      files.set(name, text)
    }
  }
  const names = [...licenses.keys()].sort()
  files.set('licenses.txt', names.map(k => licenses.get(k)).join('\n\n') + '\n')
  // dist/ says it is ESM itself, so the files run wherever they are copied.
  files.set('package.json', '{ "type": "module" }\n')

  await rm(outDir, { recursive: true, force: true })
  for (const [name, text] of [...files.entries()].sort()) {
    const target = path.join(outDir, name)
    await mkdir(path.dirname(target), { recursive: true })
    await writeFile(target, text)
  }
  await rm(work, { recursive: true, force: true })
  return [...files.keys()].sort()
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const written = await bundle(process.argv[2] ? path.resolve(process.argv[2]) : undefined)
  await chmod(path.join(root, 'bin', 'convox-build.js'), 0o755).catch(() => undefined)
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'))
  console.log(`${pkg.name} ${pkg.version}: wrote ${written.map(f => `dist/${f}`).join(', ')}`)
}
