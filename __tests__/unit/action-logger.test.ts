import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import {
  annotateProblems,
  annotationOf,
  createActionLogger,
  plainLines
} from '../../src/action/logger.js'
import { runnerCommands } from '../helpers/workflow-commands.js'

// The real @actions/core writes workflow commands to stdout: capture them.
let out: string[]
beforeEach(() => {
  out = []
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk))
    return true
  })
})
afterEach(() => {
  jest.restoreAllMocks()
})
const lines = (): string[] => out.join('').split('\n').filter(Boolean)

describe('action logger over @actions/core', () => {
  it('turns a warning with a position into a file/line/col annotation', () => {
    createActionLogger().warning('ARG VERSION is not declared', {
      file: 'api/Dockerfile',
      line: 3,
      col: 5
    })
    expect(lines()).toEqual([
      '::warning title=convox-build,file=api/Dockerfile,line=3,col=5::ARG VERSION is not declared'
    ])
  })

  it('names the input in the message when the warning is about an input', () => {
    createActionLogger().warning('unknown arg', { input: 'build-args' })
    expect(lines()).toEqual(['::warning title=convox-build::input "build-args": unknown arg'])
  })

  it('masks secrets and each line of a multi-line secret', () => {
    const logger = createActionLogger()
    logger.mask('line-one\nline-two')
    expect(lines()).toEqual(
      expect.arrayContaining([
        '::add-mask::line-one%0Aline-two',
        '::add-mask::line-one',
        '::add-mask::line-two',
        `::add-mask::${Buffer.from('line-one\nline-two').toString('base64')}`
      ])
    )
    out = []
    logger.mask('  ')
    expect(lines()).toEqual([])
  })

  it('maps groups to ::group:: and prefixes lines of a group opened inside another', async () => {
    const logger = createActionLogger()
    await logger.group('Build web', async () => {
      logger.info('step 1')
      await logger.group('Build api', async () => logger.info('step A'))
    })
    expect(lines()).toEqual([
      '::group::Build web',
      'step 1',
      '==> Build api',
      '[Build api] step A',
      '::endgroup::'
    ])
  })

  it('closes the group when its function throws', async () => {
    const logger = createActionLogger()
    await expect(
      logger.group('Plan', async () => {
        throw new Error('boom')
      })
    ).rejects.toThrow('boom')
    expect(lines()).toEqual(['::group::Plan', '::endgroup::'])
  })

  it('annotates every problem of a UserError on its own line and column', () => {
    const e = new UserError([
      { file: 'convox.yml', line: 4, col: 7, message: 'service "web" has both build and image' },
      { file: 'convox.yml', line: 9, message: 'bad' },
      { input: 'cache', message: 'must be one of auto, registry' }
    ])
    annotateProblems(e.problems)
    expect(lines()).toEqual([
      '::error title=convox-build,file=convox.yml,line=4,col=7::service "web" has both build and image',
      '::error title=convox-build,file=convox.yml,line=9::bad',
      '::error title=convox-build::input "cache": must be one of auto, registry'
    ])
  })

  it('gives no column without a line', () => {
    expect(annotationOf({ file: 'convox.yml', col: 3 })).toEqual({ file: 'convox.yml' })
  })

  it('points annotations at the file from the repository root', () => {
    expect(annotationOf({ file: 'convox.yml', line: 2, col: 5 }, 't', 'apps/shop')).toEqual({
      title: 't',
      file: 'apps/shop/convox.yml',
      startLine: 2,
      startColumn: 5
    })
    expect(annotationOf({ file: 'api/Dockerfile', line: 1 }, undefined, '.')).toEqual({
      file: 'api/Dockerfile',
      startLine: 1
    })
  })
})

describe('text from the repository or a build never becomes a workflow command', () => {
  const HOSTILE = [
    'web: build Dockerfile\n::warning::PWNED',
    'path\r::warning file=x::PWNED',
    '#5 0.3 ok\n::set-output name=x::PWNED\n  ::save-state name=x::PWNED',
    '#5 0.4 ::stop-commands::abc\n::add-mask::PWNED',
    '#6 ##[set-output name=x;]PWNED',
    '::abc::\n::warning::PWNED'
  ]

  it('shows each hostile text in full, with no command the runner would act on', async () => {
    const logger = createActionLogger()
    for (const text of HOSTILE) logger.info(text)
    logger.debug('dbg\n::warning::PWNED')
    logger.warning('bad path\n::warning::PWNED', { file: 'a\n::error::PWNED,b:c', line: 1 })
    await logger.group('Build Dockerfile\n::warning::PWNED', async () => {
      // a group beside the open one
      await logger.group('inner\n::warning::PWNED', async () => logger.info('x'))
    })
    const stdout = out.join('')
    const commands = runnerCommands(stdout)
    expect(commands.filter(c => /PWNED/.test(c.data + c.line))).toEqual([
      // annotations and group titles carry the text as escaped data, never as a line of its own
      expect.objectContaining({ name: 'debug', data: 'dbg%0A::warning::PWNED' }),
      expect.objectContaining({ name: 'warning', data: 'bad path%0A::warning::PWNED' }),
      expect.objectContaining({ name: 'group', data: 'Build Dockerfile%0A::warning::PWNED' })
    ])
    expect(commands.find(c => c.name === 'warning')?.line).toContain(
      'file=a%0A%3A%3Aerror%3A%3APWNED%2Cb%3Ac'
    )
    for (const text of HOSTILE) expect(stdout).toContain(text)
  })

  it('pauses commands with a token of its own each time, which the text cannot guess', () => {
    expect(plainLines('a plain line')).toBe('a plain line')
    const one = plainLines('::warning::x')
    const two = plainLines('::warning::x')
    const token = /^::stop-commands::([0-9a-f]{32})\n::warning::x\n::\1::$/.exec(one)?.[1]
    expect(token).toBeDefined()
    expect(two).not.toContain(token)
  })
})
