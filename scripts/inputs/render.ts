// The files generated from the settings table (src/core/inputs.ts): each gets its part of the
// table written between its markers, the rest of the file kept as it is. `npm run generate`
// writes them; __tests__/unit/inputs.test.ts fails when a committed one differs.
import { INPUTS, inputsOf, type Input } from '../../src/core/inputs.js'

/** Files generated, each with how its generated part is made from its current text. */
export const GENERATED: Record<string, (text: string) => string> = {
  'action.yml': text => between(text, ACTION_MARK, '\noutputs:', actionInputs()),
  'README.md': text => between(text, README_MARK, '\n\n', readmeTable()),
  'plugin.yml': text => between(text, PLUGIN_MARK, '  additionalProperties:', pluginProperties()),
  'hooks/command': text => between(text, HOOK_MARK, '\n\n', hookSettings())
}

const NOTE = 'from src/core/inputs.ts by npm run generate'
const ACTION_MARK = `inputs:\n  # Generated ${NOTE}.\n`
const README_MARK = `<!-- Generated ${NOTE}. -->\n`
const PLUGIN_MARK = `    # The settings, generated ${NOTE}.\n`
const HOOK_MARK = `# The properties that are settings, generated ${NOTE}.\n`
const WIDTH = 100

/** The text with what lies between `start` and the next `end` replaced by `body`. */
function between(text: string, start: string, end: string, body: string): string {
  const from = text.indexOf(start)
  const to = from < 0 ? -1 : text.indexOf(end, from + start.length)
  if (to < 0) throw new Error(`no generated part (${JSON.stringify(start)}) to replace`)
  return text.slice(0, from + start.length) + body + text.slice(to)
}

/** action.yml's inputs: the description, and the default where the runner may send it. */
function actionInputs(): string {
  const lines = INPUTS.flatMap((i: Input) => [
    `  ${i.name}:`,
    ...yamlEntry('    ', 'description', i.description),
    '    required: false',
    // With env fallbacks the default is not sent: the runner's value would hide the variable's.
    ...(i.actionDefault !== undefined
      ? [`    default: ${yamlScalar(i.actionDefault)}`]
      : i.default !== undefined && !i.env
        ? [`    default: ${yamlScalar(i.default)}`]
        : [])
  ])
  return `${lines.join('\n')}\n`
}

/** The README's input table, one row per input. */
function readmeTable(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|')
  const rows = INPUTS.map((i: Input) => {
    const cells = [`\`${i.name}\``, defaultShown(i), i.readme].map(cell)
    return `| ${cells.join(' | ')} |`.replace(/\| {2}\|/g, '| |')
  })
  return ['| input | default | meaning |', '|---|---|---|', ...rows].join('\n')
}

function defaultShown(i: Input): string {
  if (i.shown !== undefined) return i.shown
  const parts = [...(i.env ?? []).map(v => `\`$${v}\``)]
  if (i.default !== undefined) parts.push(`\`${i.default}\``)
  return parts.join(', else ')
}

/** plugin.yml's properties of the settings the Buildkite plugin takes. */
function pluginProperties(): string {
  const types: Record<Input['type'], string> = {
    string: 'string',
    path: 'string',
    boolean: 'boolean',
    choice: 'string',
    number: '[string, integer]',
    lines: '[string, array]',
    list: '[string, array]'
  }
  const lines = inputsOf('buildkite').flatMap(i => [
    `    ${i.name}:`,
    `      type: ${types[i.type]}`,
    ...(i.options ? [`      enum: [${i.options.join(', ')}]`] : [])
  ])
  return `${lines.join('\n')}\n`
}

/** hooks/command's list of the properties it passes on as CONVOX_BUILD_<NAME>. */
function hookSettings(): string {
  const names = inputsOf('buildkite').map(i => i.name.toUpperCase().replace(/-/g, '_'))
  return `${wrap(`settings=(${names.join(' ')})`, '', '  ').join('\n')}`
}

/** Text in lines of at most WIDTH characters, broken at spaces: the first after `first`. */
function wrap(text: string, first: string, indent: string): string[] {
  const lines: string[] = []
  let line = first
  for (const word of text.split(' ')) {
    const start = line === first || line === indent
    if (!start && line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = indent + word
    } else {
      line = start ? line + word : `${line} ${word}`
    }
  }
  lines.push(line)
  return lines
}

/** `key: value` on one line when it fits, else a folded block. */
function yamlEntry(indent: string, key: string, text: string): string[] {
  const one = `${indent}${key}: ${yamlScalar(text)}`
  if (one.length <= WIDTH) return [one]
  return [`${indent}${key}: >-`, ...wrap(text, `${indent}  `, `${indent}  `)]
}

/** A YAML scalar: plain when YAML reads it back as this string, else single-quoted. */
function yamlScalar(text: string): string {
  const plain =
    !/^[`'"[\]{}>|*&!%@#,?:\-\s]/.test(text) &&
    !/(: |\s#|:$|\s$)/.test(text) &&
    !/^(true|false|yes|no|on|off|null|~|[-+]?(\d[\d.]*|\.\d+))$/i.test(text)
  return plain ? text : `'${text.replace(/'/g, "''")}'`
}
