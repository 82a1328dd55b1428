import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { UserError } from '../../src/core/errors.js'
import { annotateProblems, annotationOf, createActionLogger } from '../../src/action/logger.js'

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
