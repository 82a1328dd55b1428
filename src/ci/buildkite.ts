// Buildkite: the agent's variables, pull request builds with the pipeline's agents, and the
// CLI's summary as an annotation and its ids as meta-data through buildkite-agent. The plugin
// (plugin.yml, hooks/command) stays at the repository root, where Buildkite looks for it.
import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import type { CiAdapter, CiFacts, CiPublication, Env } from './adapter.js'
import { agentIdToken } from './id-token.js'
import { firstLine, slugOf } from './read.js'
import { pullRequestBuild } from './trust.js'

function facts(env: Env): CiFacts {
  const pr = env.BUILDKITE_PULL_REQUEST && env.BUILDKITE_PULL_REQUEST !== 'false'
  return {
    // The PR's head, also when the agent checks out the merge refspec.
    commit: env.BUILDKITE_COMMIT,
    ciCommit: env.BUILDKITE_COMMIT,
    subject: firstLine(env.BUILDKITE_MESSAGE),
    isPullRequest: Boolean(pr),
    pullRequest: pr ? env.BUILDKITE_PULL_REQUEST : '',
    branch: env.BUILDKITE_BRANCH,
    targetBranch: pr ? env.BUILDKITE_PULL_REQUEST_BASE_BRANCH : '',
    defaultBranch: env.BUILDKITE_PIPELINE_DEFAULT_BRANCH,
    repository: slugOf(env.BUILDKITE_REPO),
    runUrl:
      env.BUILDKITE_BUILD_URL && env.BUILDKITE_JOB_ID
        ? `${env.BUILDKITE_BUILD_URL}#${env.BUILDKITE_JOB_ID}`
        : env.BUILDKITE_BUILD_URL,
    tag: env.BUILDKITE_TAG
  }
}

/** Meta-data keys of the ids (`buildkite-agent meta-data get convox-release-id`). */
const META_DATA = {
  'build-id': 'convox-build-id',
  'release-id': 'convox-release-id'
}

/** The ids as meta-data, the summary as an annotation; without buildkite-agent, nothing. */
async function publish(p: CiPublication): Promise<void> {
  const agent = onPath('buildkite-agent', p.env.PATH ?? '')
  if (!agent) {
    p.logger.debug('buildkite-agent is not on PATH: no annotation, no meta-data')
    return
  }
  const run = async (what: string, args: string[], input?: string): Promise<void> => {
    try {
      const r = await p.exec(agent, args, { env: p.env, input })
      if (r.exitCode !== 0) throw new Error(r.stderr.trim() || `exit code ${r.exitCode}`)
    } catch (e) {
      // The build is done: a report that cannot be written is a warning.
      p.logger.warning(`buildkite-agent ${what}: ${p.secrets.redact((e as Error).message)}`)
    }
  }
  for (const [output, key] of Object.entries(META_DATA)) {
    const value = p.outputs[output]
    if (value) await run('meta-data set', ['meta-data', 'set', key, p.secrets.redact(value)])
  }
  if (p.summary) {
    const context = `convox-build-${p.app}`
    await run('annotate', ['annotate', '--style', p.outcome, '--context', context], p.summary())
  }
}

/** The executable `name` on PATH, '' when none. */
function onPath(name: string, PATH: string): string {
  for (const dir of PATH.split(path.delimiter)) {
    if (!dir) continue
    const file = path.join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return ''
}

export const buildkite: CiAdapter = {
  service: 'buildkite',
  name: 'Buildkite',
  detect: env => Boolean(env.BUILDKITE),
  facts,
  trust: f =>
    pullRequestBuild(f, slugOf(f.env.BUILDKITE_PULL_REQUEST_REPO), "the pipeline's agents"),
  // The agent's OIDC token (https://buildkite.com/docs/agent/v3/cli-oidc).
  idToken: (env, audience, io) =>
    env.BUILDKITE_AGENT_ACCESS_TOKEN
      ? agentIdToken('buildkite-agent', ['oidc', 'request-token', '--audience', audience], io)
      : Promise.resolve(undefined),
  secretVariables: ['BUILDKITE_AGENT_ACCESS_TOKEN'],
  publish,
  packaging: ['plugin.yml', 'hooks/command']
}
