import { AsyncLocalStorage } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import * as core from '@actions/core'
import { formatProblem, type Problem } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { Redactor } from '../core/secrets.js'

/** The parts of @actions/core the logger uses (a parameter so tests can record the calls). */
export type ActionsCore = Pick<
  typeof core,
  'info' | 'debug' | 'notice' | 'warning' | 'error' | 'setSecret' | 'startGroup' | 'endGroup'
>

/** Annotation properties of a problem: file, line and column when it names a position. */
export function annotationOf(
  where: Omit<Problem, 'message'> | undefined,
  title?: string,
  fileBase = ''
): core.AnnotationProperties {
  const props: core.AnnotationProperties = {}
  if (where?.title ?? title) props.title = where?.title ?? title
  if (where?.file) {
    // Problems name files relative to working-directory; annotations want the repository root.
    props.file = fileBase && fileBase !== '.' ? path.posix.join(fileBase, where.file) : where.file
    if (where.line !== undefined) props.startLine = where.line
    if (where.line !== undefined && where.col !== undefined) props.startColumn = where.col
  }
  return props
}

/** The annotation text: the bare message when the annotation carries the position. */
export function annotationMessage(p: Problem): string {
  return p.file ? p.message : formatProblem(p)
}

/**
 * Text as plain log lines, never as workflow commands: the runner reads `::name::` at the start
 * of a line (after blanks) and `##[name]` anywhere in one, so text holding either (a path from
 * the manifest, a RUN's output) is shown inside `::stop-commands::<token>` … `::<token>::`, the
 * token random so that the text cannot end the pause itself. Annotations, debug lines and group
 * titles need none of this: @actions/core escapes them (escapeData, escapeProperty).
 */
export function plainLines(text: string): string {
  if (!text.includes('::') && !text.includes('##[')) return text
  const token = randomBytes(16).toString('hex')
  return `::stop-commands::${token}\n${text}\n::${token}::`
}

/**
 * Logger over @actions/core. Every form of every secret is handed to the runner's masker, and
 * lines are redacted here too (the masker knows only what it was given, in the form given). The
 * runner's log has one level of groups, so a group opened while another is open (concurrent
 * builds) prefixes its lines with `[title]` instead.
 */
export function createActionLogger(
  actions: ActionsCore = core,
  fileBase: () => string = () => '',
  secrets: Redactor = new Redactor()
): Logger {
  const scope = new AsyncLocalStorage<string>()
  let open = false
  secrets.onAdd(v => actions.setSecret(v))
  const prefixed = (message: string): string => {
    const title = scope.getStore()
    return secrets.redact(title ? message.replace(/^/gm, `[${title}] `) : message)
  }
  const info = (text: string): void => actions.info(plainLines(text))
  return {
    info: message => info(prefixed(message)),
    debug: message => actions.debug(prefixed(message)),
    warning: (message, where) =>
      actions.warning(
        secrets.redact(annotationMessage({ ...where, message })),
        annotationOf(where, 'convox-build', fileBase())
      ),
    notice: message =>
      actions.notice(secrets.redact(annotationMessage({ message })), { title: 'convox-build' }),
    mask: secret => secrets.add(secret),
    group: async (title, fn) => {
      if (open) {
        info(secrets.redact(`==> ${title}`))
        return scope.run(title, fn)
      }
      open = true
      actions.startGroup(secrets.redact(title))
      try {
        return await fn()
      } finally {
        actions.endGroup()
        open = false
      }
    }
  }
}

/** One error annotation per problem. */
export function annotateProblems(
  problems: Problem[],
  actions: ActionsCore = core,
  fileBase = '',
  secrets: Redactor = new Redactor()
): void {
  for (const p of problems) {
    actions.error(secrets.redact(annotationMessage(p)), annotationOf(p, 'convox-build', fileBase))
  }
}
