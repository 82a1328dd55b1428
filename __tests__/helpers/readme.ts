// The README's snippets, as the tests run them: the first fenced block under a heading.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from './rig.js'

export interface Snippet {
  lang: string
  code: string
}

/** The first code block after the heading `### <title>` (or `## <title>`). */
export function readmeSnippet(title: string): Snippet {
  const block = /^```(\w*)\n([\s\S]*?)^```$/m.exec(fromHeading(title))
  if (!block) throw new Error(`README.md section "${title}" has no code block`)
  return { lang: block[1] ?? '', code: block[2] ?? '' }
}

/** The text under the heading `### <title>` (or `## <title>`), to the next heading. */
export function readmeSection(title: string): string {
  const rest = fromHeading(title).split('\n').slice(1).join('\n')
  const end = rest.search(/^#{1,3} /m)
  return end < 0 ? rest : rest.slice(0, end)
}

/** The README from the heading `### <title>` (or `## <title>`) on. */
function fromHeading(title: string): string {
  const text = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')
  const heading = new RegExp(`^#{2,3} ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm')
  const at = text.search(heading)
  if (at < 0) throw new Error(`README.md has no section "${title}"`)
  return text.slice(at)
}
