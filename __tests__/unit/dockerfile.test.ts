import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { UserError } from '../../src/core/errors.js'
import { hasStage, readDockerfile, scanDockerfile } from '../../src/core/dockerfile.js'
import { thrown } from '../helpers/errors.js'

describe('scanDockerfile: declared ARG names', () => {
  it.each([
    ['one ARG', 'FROM a\nARG A\n', ['A']],
    ['several names on one line', 'FROM a\nARG A B C\n', ['A', 'B', 'C']],
    ['defaults', 'FROM a\nARG A=1 B="x y" C=\'z w\' D=\n', ['A', 'B', 'C', 'D']],
    ['before the first FROM', 'ARG BASE=alpine\nFROM ${BASE}\nARG X\n', ['BASE', 'X']],
    ['any case of the keyword', 'from a\narg lower\nArG Mixed\n', ['lower', 'Mixed']],
    ['leading whitespace', 'FROM a\n   ARG INDENTED\n', ['INDENTED']],
    [
      'union across stages, in order, once',
      'FROM a AS x\nARG B A\nFROM b\nARG A C\n',
      ['B', 'A', 'C']
    ],
    ['continuation', 'FROM a\nARG A \\\n    B \\\n    C\n', ['A', 'B', 'C']],
    [
      'comment lines inside a continuation',
      'FROM a\nARG A \\\n# comment\n    B \\\n\n    C\n',
      ['A', 'B', 'C']
    ],
    ['trailing spaces after the escape', 'FROM a\nARG A \\   \n  B\n', ['A', 'B']],
    ['comments are not instructions', 'FROM a\n# ARG NOT\n  # ARG NOR\nARG YES\n', ['YES']],
    ['ARG inside RUN text is not an ARG', 'FROM a\nRUN echo \\\n  ARG NOPE\n', []],
    [
      'escape directive: backtick',
      '# escape=`\nFROM a\nARG A `\n  B\nRUN dir c:\\\nARG C\n',
      ['A', 'B', 'C']
    ],
    [
      'backslash is no continuation under escape=`',
      '# escape=`\nFROM a\nARG A=c:\\\nARG B\n',
      ['A', 'B']
    ],
    [
      'syntax and escape directives',
      '# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nARG A `\n B\n',
      ['A', 'B']
    ],
    ['directive case and spaces', '#  ESCAPE = `\nFROM a\nARG A `\n B\n', ['A', 'B']],
    [
      'a directive after a comment is a comment',
      '# hello\n# escape=`\nFROM a\nARG A=`\nARG B\n',
      ['A', 'B']
    ],
    [
      'a directive after a blank line is a comment',
      '\n# escape=`\nFROM a\nARG A=`\nARG B\n',
      ['A', 'B']
    ],
    [
      'a directive after an instruction is a comment',
      'FROM a\n# escape=`\nARG A=`\nARG B\n',
      ['A', 'B']
    ],
    ['heredoc bodies are not instructions', 'FROM a\nRUN <<EOF\nARG NOPE\nEOF\nARG YES\n', ['YES']],
    [
      'quoted and dash heredocs',
      'FROM a\nCOPY <<-"END" /x\n\tARG NOPE\n\tEND\nRUN cat <<\'A\' <<B\nARG N1\nA\nARG N2\nB\nARG YES\n',
      ['YES']
    ],
    ['shell shifts are no heredocs', 'FROM a\nRUN echo $((1<<3))\nARG YES\n', ['YES']],
    ['CRLF line ends', 'FROM a\r\nARG A \\\r\n  B\r\n', ['A', 'B']],
    ['a BOM', '\uFEFFARG A\nFROM a\n', ['A']],
    ['escaped quote in a default', 'FROM a\nARG A="x\\"y" B\n', ['A', 'B']],
    ['empty ARG', 'FROM a\nARG\n', []]
  ])('%s', (_name, text, args) => {
    expect(scanDockerfile(text).args).toEqual(args)
  })
})

describe('scanDockerfile: stages', () => {
  it.each([
    ['AS', 'FROM a AS base\nFROM base AS development\n', ['base', 'development']],
    ['any case of AS', 'FROM a as one\nFROM a As two\nfrom a aS Three\n', ['one', 'two', 'Three']],
    ['--platform', 'FROM --platform=$BUILDPLATFORM golang:1 AS build\n', ['build']],
    ['no name', 'FROM a\nFROM b\n', []],
    ['continued FROM', 'FROM a \\\n  AS dev\n', ['dev']],
    ['text mentioning as development is not a stage', 'FROM a\nRUN echo as development\n', []]
  ])('%s', (_name, text, stages) => {
    expect(scanDockerfile(text).stages).toEqual(stages)
  })

  it('finds a development stage in any case', () => {
    expect(hasStage(scanDockerfile('FROM a AS Development\n'), 'development')).toBe(true)
    expect(hasStage(scanDockerfile('FROM a AS developmentx\n'), 'development')).toBe(false)
  })

  it('reports an invalid escape directive', () => {
    expect(scanDockerfile('# escape=x\nFROM a\n').problems).toEqual([
      { line: 1, message: "invalid escape token 'x' does not match ` or \\" }
    ])
  })
})

describe('readDockerfile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'df-'))
  it('reads from disk', () => {
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM a AS development\nARG X\n')
    expect(readDockerfile(path.join(dir, 'Dockerfile'), 'Dockerfile')).toEqual({
      args: ['X'],
      stages: ['development'],
      escape: '\\'
    })
  })
  it('names a missing Dockerfile', () => {
    expect(() => readDockerfile(path.join(dir, 'nope'), 'app/nope')).toThrow(UserError)
    expect(thrown(() => readDockerfile(path.join(dir, 'nope'), 'app/nope')).problems).toEqual([
      { file: 'app/nope', message: 'Dockerfile does not exist' }
    ])
  })
  it('gives bad directives a position', () => {
    fs.writeFileSync(path.join(dir, 'Bad'), '# escape=?\nFROM a\n')
    expect(thrown(() => readDockerfile(path.join(dir, 'Bad'), 'Bad')).problems).toEqual([
      { file: 'Bad', line: 1, col: 1, message: "invalid escape token '?' does not match ` or \\" }
    ])
  })
})
