// `npm run bundle`: builds dist/, the committed code the runner and the `convox-build` bin
// execute. tsc emits the TypeScript as ES modules (as NodeNext gives them; types are checked by
// `npm run build`, not here), then @vercel/ncc bundles each entry with its dependencies and their
// licenses. Deterministic: the same sources give byte-identical files.
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ncc from '@vercel/ncc'
import * as acorn from 'acorn'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// In the repository so the emitted files resolve their packages from its node_modules; one per
// process so a test may bundle while `npm run bundle` runs. Removed when done.
const work = path.join(root, `.bundle-${process.pid}`)

/** Entry point to output file, relative to the repository. */
export const ENTRIES = {
  'src/action/main.ts': 'index.js',
  'src/action/post.ts': 'post.js',
  'src/cli/main.ts': 'cli.js'
}

async function emitJavaScript() {
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
  await writeFile(tsconfig, JSON.stringify(config, null, 2))
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  execFileSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' })
}

/**
 * Puts back the parentheses the minifier drops around each module's function: V8 compiles a
 * parenthesized function with the file (its PIFE heuristic) instead of parsing it twice, lazily
 * and again when it runs. Measured: 14 ms of the CLI's start of about 100 ms.
 */
export function eagerModules(code) {
  const ast = acorn.parse(code, { ecmaVersion: 'latest', sourceType: 'module' })
  const isFactory = p =>
    p.type === 'Property' &&
    p.kind === 'init' &&
    !p.method &&
    p.key.type === 'Literal' &&
    typeof p.key.value === 'number' &&
    (p.value.type === 'ArrowFunctionExpression' || p.value.type === 'FunctionExpression')
  let modules
  for (const node of ast.body) {
    for (const d of node.type === 'VariableDeclaration' ? node.declarations : []) {
      const init = d.init
      if (init?.type !== 'ObjectExpression' || !init.properties.every(isFactory)) continue
      if (!modules || init.properties.length > modules.properties.length) modules = init
    }
  }
  if (!modules) throw new Error('bundle: no module table found in the minified output')
  const parts = []
  let at = 0
  for (const { value } of modules.properties) {
    if (code[value.start - 1] === '(' && code[value.end] === ')') continue
    parts.push(code.slice(at, value.start), '(', code.slice(value.start, value.end), ')')
    at = value.end
  }
  parts.push(code.slice(at))
  return parts.join('')
}

async function bundleEntry(input, file, files, licenses) {
  const { code, assets } = await ncc(input, {
    // Only packages may bring assets: the bundler reads process.cwd() in them as a directory to
    // copy, and the working directory holds the emitted sources.
    filterAssetBase: path.join(root, 'node_modules'),
    cache: false,
    // Minified: smaller to check out, and no second copy of our sources in the tree.
    minify: true,
    sourceMap: false,
    // One file per chunk: an entry with a chunk (a package's dynamic import, such as cacache's of
    // p-map under @sigstore/sign) would otherwise get that chunk's licenses only.
    license: '[name].licenses.txt',
    quiet: true,
    target: 'es2022'
  })
  // Lazily loaded chunks (Sigstore's libraries) are named after their entry: chunk ids are per
  // entry, so two entries' `<id>.index.js` would differ.
  const chunkSuffix = `.${file.replace(/\.js$/, '')}.js`
  const chunkName = name => name.replace(/^(\d+)\.index\.js$/, `$1${chunkSuffix}`)
  const runtime = '.u=e=>""+e+".index.js"'
  if (Object.keys(assets).some(n => /^\d+\.index\.js$/.test(n)) && !code.includes(runtime)) {
    throw new Error(`bundle: ${file}: the chunk loader's file names are not where expected`)
  }
  files.set(file, eagerModules(code.replace(runtime, `.u=e=>""+e+"${chunkSuffix}"`)))
  for (const [emitted, asset] of Object.entries(assets)) {
    const name = chunkName(emitted)
    const text = asset.source.toString()
    if (name.endsWith('licenses.txt')) {
      // Sections are `<package>\n<license id>\n<text>`, separated by blank lines.
      for (const section of text.split(/\n\n(?=(?:@[\w.-]+\/)?[\w.-]+\n[\w.() -]+\n)/)) {
        // Keyed by the whole section: two versions of a package may carry different licenses.
        if (section.trim()) licenses.set(section.trim(), section.trim())
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

/** Bundles every entry into outDir (default dist/), replacing what was there. */
export async function bundle(outDir = path.join(root, 'dist')) {
  await rm(work, { recursive: true, force: true })
  await mkdir(work, { recursive: true })
  await writeFile(path.join(work, 'package.json'), '{ "type": "module" }\n')
  const files = new Map()
  const licenses = new Map()
  const cwd = process.cwd()
  try {
    await emitJavaScript()
    // ncc names modules relative to the working directory in comments: keep those stable.
    process.chdir(path.join(work, 'out'))
    for (const [entry, file] of Object.entries(ENTRIES)) {
      await bundleEntry(
        path.join(work, 'out', entry.replace(/\.ts$/, '.js')),
        file,
        files,
        licenses
      )
    }
  } finally {
    process.chdir(cwd)
    await rm(work, { recursive: true, force: true })
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
  return [...files.keys()].sort()
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const written = await bundle(process.argv[2] ? path.resolve(process.argv[2]) : undefined)
  await chmod(path.join(root, 'bin', 'convox-build.js'), 0o755).catch(() => undefined)
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'))
  console.log(`${pkg.name} ${pkg.version}: wrote ${written.join(', ')}`)
}
