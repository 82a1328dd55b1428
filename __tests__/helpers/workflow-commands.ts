// How the CI's log readers find their markers in a job's output, for tests that check that none
// comes from repository text or a build's output.

export interface RunnerCommand {
  name: string
  data: string
  line: string
}

/**
 * The workflow commands the GitHub runner would act on in `output`, as actions/runner reads them
 * (src/Runner.Worker/ActionCommandManager.cs TryProcessCommand; ActionCommand.cs TryParseV2, which
 * trims leading blanks and wants `::` first, and TryParse, which finds `##[` anywhere). Lines end
 * at LF, CR or CRLF (.NET's ReadLine). Between `::stop-commands::<token>` and `::<token>::`
 * nothing is acted on; the pause itself is not returned.
 */
export function runnerCommands(output: string): RunnerCommand[] {
  const found: RunnerCommand[] = []
  let stopToken: string | undefined
  for (const line of output.split(/\r\n|\r|\n/)) {
    const trimmed = line.replace(/^[\s\u0085]+/, '')
    let name: string | undefined
    let data = ''
    const v2 = /^::([^\s:]+)[^:]*::(.*)$/.exec(trimmed)
    const v1 = /##\[([^\]\s;]+)[^\]]*\](.*)$/.exec(line)
    if (v2) [, name, data] = v2 as unknown as [string, string, string]
    else if (v1) [, name, data] = v1 as unknown as [string, string, string]
    if (name === undefined) continue
    if (stopToken !== undefined) {
      if (name === stopToken) stopToken = undefined
      continue
    }
    if (name === 'stop-commands') {
      stopToken = data
      continue
    }
    found.push({ name, data, line })
  }
  return found
}

// eslint-disable-next-line no-control-regex -- the escapes are what it matches
const LEADING_ESCAPES = /^(?:\x1b\[[0-9;?]*[A-Za-z]|\x1b_[^\x07]*\x07)*/

/** Lines Buildkite would take as a group header (`--- `, `+++ `, `~~~ `, `^^^ +++`). */
export function buildkiteHeaders(output: string): string[] {
  return output
    .split(/\r\n|\r|\n/)
    .filter(l => /^(?:---|\+\+\+|~~~|\^\^\^ \+\+\+)/.test(l.replace(LEADING_ESCAPES, '')))
}

/** GitLab's section markers (lib/gitlab/ci/ansi2json: `section_start:<time>:<name>`, anywhere). */
export function gitlabSections(output: string): string[] {
  return output.match(/section_(?:start|end):\d+:[a-zA-Z0-9_.-]+/g) ?? []
}
