import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DefaultArtifactClient } from '@actions/artifact'
import * as core from '@actions/core'
import { ciOf } from '../ci/context.js'
import { idTokenSource } from '../ci/id-token.js'
import { ADAPTERS, CI_SECRET_VARIABLES } from '../ci/index.js'
import { exitCodeOf, isReported } from '../core/errors.js'
import { spawnExec } from '../core/exec.js'
import { watchInterrupts } from '../core/interrupt.js'
import { makeRunTempDir } from '../core/run-owner.js'
import { runPipeline, type PipelineResult } from '../core/pipeline/index.js'
import { addEnvironmentSecrets, addInputSecrets, Redactor } from '../core/secrets.js'
import { addSettingsSecrets, readSettings, type Settings } from '../core/settings.js'
import { saveCleanupPaths } from './cleanup-state.js'
import { restoreLocalCache, saveLocalCache, usesLocalCache } from './local-cache.js'
import { annotateProblems, createActionLogger } from './logger.js'
import { actionOutputs, artifactUrl, type UploadedArtifact } from './action-outputs.js'
import { renderSummary } from '../core/summary.js'
import { githubRunUrl } from '../ci/github.js'
import { upsertReviewComment } from './review-comment.js'
import { githubAttestation } from './attestation.js'
import { guardForkCode, type TrustScope } from '../core/trust.js'

export async function runAction(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // working-directory relative to the repository root, once known: annotations point from there.
  let fileBase = ''
  const secrets = new Redactor()
  const logger = createActionLogger(core, () => fileBase, secrets)
  const interrupts = watchInterrupts({
    report: e => core.error(secrets.redact(`internal error: ${(e as Error)?.message ?? e}`))
  })
  let tempDir = ''
  try {
    addEnvironmentSecrets(secrets, env, CI_SECRET_VARIABLES)
    addInputSecrets(secrets, name => core.getInput(name))
    // build-args values are verbatim, trailing spaces included.
    const settings = readSettings(
      name => core.getInput(name, { trimWhitespace: name !== 'build-args' }),
      { env, cwd: process.cwd() }
    )
    fileBase = annotationBase(env.GITHUB_WORKSPACE || process.cwd(), settings.workingDirectory)
    addSettingsSecrets(secrets, settings)
    const attest = githubAttestation(settings, env)

    const runnerTemp = env.RUNNER_TEMP || tmpdir()
    tempDir = await makeRunTempDir(runnerTemp, [settings.export])
    const localCacheDir = path.join(runnerTemp, `convox-build-cache-${settings.app}`)
    saveCleanupPaths([tempDir, localCacheDir], secrets)

    const ci = ciOf(settings, env, spawnExec, interrupts.signal)
    const localCache = usesLocalCache(settings)
    // The cache service is asked before the pipeline: the fork guard (which the pipeline runs
    // too) comes first, and the scope names the cache keys.
    let scope: TrustScope | undefined
    if (localCache) {
      const c = await ci
      guardForkCode(c.forkCode, settings)
      scope = c.scope
      await restoreLocalCache(localCacheDir, settings, env, logger, scope)
    }
    const result = await runPipeline(settings, {
      env,
      logger,
      exec: spawnExec,
      github: true,
      tempDir,
      localCacheDir,
      secrets,
      signal: interrupts.signal,
      ci,
      idToken: idTokenSource(env, ADAPTERS, {
        exec: spawnExec,
        signal: interrupts.signal,
        secrets
      }),
      attest
    })
    if (localCache) await saveLocalCache(localCacheDir, settings, env, logger, scope)

    setOutputs(result, secrets)
    let artifact: UploadedArtifact | undefined
    let uploadError: Error | undefined
    if (settings.uploadArtifact && result.exportPath) {
      try {
        artifact = await uploadExport(settings, result.exportPath, env)
        setOutputs(result, secrets, artifact)
        logger.info(`Uploaded ${result.exportPath} as artifact ${artifact.id}: ${artifact.url}`)
      } catch (e) {
        uploadError = e as Error
      }
    }
    if (settings.summary) await writeSummary(settings, result, secrets, artifact, logger)
    if (result.review) await commentOnPullRequest(settings, result, secrets, env, logger)
    if (uploadError) {
      throw new Error(
        `upload-artifact "${settings.uploadArtifact}": upload failed: ${uploadError.message}`
      )
    }
  } catch (e) {
    const cancelled = interrupts.reason()
    if (cancelled) {
      core.setFailed(cancelled.message)
      process.exitCode = cancelled.exitCode
    } else {
      fail(e, fileBase, secrets)
    }
  } finally {
    // The post step removes it too, but a cancelled job may never get there.
    if (tempDir) await rm(tempDir, { recursive: true, force: true }).catch(() => undefined)
    interrupts.dispose()
  }
}

/** working-directory from the repository root; '' when outside it (annotations cannot point there). */
export function annotationBase(workspace: string, workingDirectory: string): string {
  const rel = path.relative(workspace, workingDirectory)
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return ''
  return rel.split(path.sep).join('/')
}

function setOutputs(result: PipelineResult, secrets: Redactor, artifact?: UploadedArtifact): void {
  // The outputs land in the runner's files and other jobs: no secret, whatever leaked into them.
  for (const [name, value] of Object.entries(actionOutputs(result, artifact))) {
    core.setOutput(name, secrets.redact(value))
  }
}

async function uploadExport(
  settings: Settings,
  exportPath: string,
  env: NodeJS.ProcessEnv
): Promise<UploadedArtifact> {
  const client = new DefaultArtifactClient()
  const { id } = await client.uploadArtifact(
    settings.uploadArtifact,
    [exportPath],
    path.dirname(exportPath),
    // The tarball is already gzip'd.
    { compressionLevel: 0 }
  )
  if (id === undefined) throw new Error('the artifact service returned no artifact id')
  return { id, url: artifactUrl(env, id) }
}

/** The review app's one comment on the pull request; a failure to write it only warns. */
async function commentOnPullRequest(
  settings: Settings,
  result: PipelineResult,
  secrets: Redactor,
  env: NodeJS.ProcessEnv,
  logger: ReturnType<typeof createActionLogger>
): Promise<void> {
  if (!settings.githubToken) return
  try {
    const runUrl = env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID ? githubRunUrl(env) : ''
    const done = await upsertReviewComment(result, secrets, {
      token: settings.githubToken,
      env,
      runUrl
    })
    if (done)
      logger.info(`Review app comment ${done} on pull request ${result.review?.pullRequest}`)
  } catch (e) {
    logger.warning(
      `could not write the review app's pull request comment (the token needs pull-requests: write): ${(e as Error).message}`
    )
  }
}

async function writeSummary(
  settings: Settings,
  result: PipelineResult,
  secrets: Redactor,
  artifact: UploadedArtifact | undefined,
  logger: ReturnType<typeof createActionLogger>
): Promise<void> {
  try {
    const text = renderSummary({ result, dryRun: settings.dryRun, artifact, secrets })
    await core.summary.addRaw(text).write()
  } catch (e) {
    logger.warning(`could not write the job summary: ${(e as Error).message}`)
  }
}

/**
 * User mistakes and failed builds: one annotation per problem and no stack. Anything else: its
 * message. The process exits with the error kind's code (README "Exit codes").
 */
function fail(e: unknown, fileBase: string, secrets: Redactor): void {
  if (isReported(e)) {
    annotateProblems(e.problems, core, fileBase, secrets)
    const n = e.problems.length
    core.setFailed(`convox-build stopped: ${n} problem${n === 1 ? '' : 's'}, see the errors above`)
  } else {
    const err = e instanceof Error ? e : new Error(String(e))
    if (err.stack) core.debug(secrets.redact(err.stack))
    core.setFailed(secrets.redact(err.message))
  }
  process.exitCode = exitCodeOf(e)
}
