// Dockerfiles as BuildKit v0.34.2 parses them (frontend/dockerfile/parser parser.go Parse,
// heredocsFromLine, directives.go DirectiveParser, instructions parse.go parseArg / parseOnBuild /
// parseFrom) and the model dockerfile2llb reads (convert.go addState, buildMetaArgs). Each
// expectation was checked against BuildKit's own parser.
import { describe, expect, it } from '@jest/globals'
import { finalStage, imageStages, parseDockerfile, resolveFrom } from '../../src/core/dockerfile.js'

const argsOf = (text: string) => {
  const m = parseDockerfile(text)
  return {
    problems: m.problems.map(p => `${p.line}: ${p.message}`),
    global: m.globalArgs.map(a => a.name),
    stages: m.stages.map(s => [s.name, s.args.map(a => a.name)])
  }
}

describe('heredocs open only where BuildKit opens them (parser.go heredocsFromLine)', () => {
  it.each([
    [
      'inside a quoted word',
      'FROM a\nRUN echo "usage: cat <<EOF"\nARG X\nFROM b AS development\n',
      [
        ['', ['X']],
        ['development', []]
      ]
    ],
    ['in a JSON RUN', 'FROM a\nRUN ["sh","-c","cat <<EOF"]\nARG X\n', [['', ['X']]]],
    ['not at a word start', "FROM a\nRUN echo '<<EOF'\nARG Y\n", [['', ['Y']]]],
    ['<<\\EOF', 'FROM a\nRUN <<\\EOF\nARG NO\nEOF\nARG Y\n', [['', ['Y']]]],
    ['a quoted name', 'FROM a\nRUN <<"E F"\nARG NO\nE F\nARG Y\n', [['', ['Y']]]],
    ['two', 'FROM a\nRUN <<A <<B\nARG NO\nA\nARG NO2\nB\nARG Q\n', [['', ['Q']]]],
    [
      '<<- strips tabs before the end word',
      'FROM a\nRUN <<-EOF\n\tARG NO\n\tEOF\nARG Y\n',
      [['', ['Y']]]
    ],
    ['with a file descriptor', 'FROM a\nRUN 3<<EOF\nARG NO\nEOF\nARG Y\n', [['', ['Y']]]],
    ['ONBUILD RUN', 'FROM a\nONBUILD RUN <<EOF\nARG NO\nEOF\nARG W\n', [['', ['W']]]],
    ['ENV takes none', 'FROM a\nENV X=<<EOF\nARG Y\n', [['', ['Y']]]]
  ])('%s', (_n, text, stages) => {
    expect(argsOf(text)).toEqual({ problems: [], global: [], stages })
  })

  it('names the heredocs an instruction opens', () => {
    const m = parseDockerfile('FROM a\nCOPY <<A <<B /x/\na\nA\nb\nB\n')
    expect(m.stages[0]?.instructions[0]).toMatchObject({
      keyword: 'COPY',
      line: 2,
      heredocs: ['A', 'B']
    })
  })

  it('<<A<<B is one word that opens nothing', () => {
    expect(argsOf('FROM a\nRUN <<A<<B\na\nA\n').problems).toContain('3: unknown instruction: a')
  })

  it('an unterminated heredoc is an error', () => {
    expect(argsOf('FROM a\nRUN <<EOF\nx\n').problems).toEqual(['2: unterminated heredoc'])
  })
})

describe('line continuation (parser.go trimContinuationCharacter)', () => {
  it.each([
    ['an escaped escape does not continue', 'FROM a\nRUN echo C:\\\\tools\\\\\nARG X\n', ['X']],
    ['spaces after the escape still continue', 'FROM a\nRUN echo \\ \nARG X\n', []],
    ['tabs too', 'FROM a\nRUN echo \\\t\nARG X\n', []],
    ['other text after it does not', 'FROM a\nRUN echo \\ x\nARG X\n', ['X']],
    ['comment and empty lines inside are skipped', 'FROM a\nRUN a \\\n# c\n\n  b\nARG X\n', ['X']],
    ['the escape directive sets it', '# escape=`\nFROM a\nRUN echo `\nARG X\n', []]
  ])('%s', (_n, text, args) => {
    expect(argsOf(text).stages[0]?.[1]).toEqual(args)
  })
})

describe('parser directives (directives.go DirectiveParser)', () => {
  it.each([
    ['# syntax= with nothing ends the directives', '# syntax=\n# escape=`\nFROM a\n', '\\', ''],
    ['an empty # escape= is a comment', '# escape=\nFROM a\n', '\\', ''],
    [
      'syntax is its first word',
      '# syntax = docker/dockerfile:1 x\nFROM a\n',
      '\\',
      'docker/dockerfile:1'
    ],
    ['after a shebang', '#!/bin/sh\n# syntax=x\nFROM a\n', '\\', 'x'],
    ['after an unknown directive, none', '# foo=bar\n# escape=`\nFROM a\n', '\\', ''],
    ['leading spaces are allowed', ' # escape=`\nFROM a\n', '`', '']
  ])('%s', (_n, text, escape, syntax) => {
    const m = parseDockerfile(text)
    expect([m.problems, m.escape, m.syntax]).toEqual([[], escape, syntax])
  })

  it.each([
    ['a bad escape', '# escape=x\nFROM a\n', "1: invalid escape token 'x' does not match ` or \\"],
    [
      'a repeated directive',
      '#escape=\\\n#escape=`\nFROM a\n',
      '2: only one escape parser directive can be used'
    ]
  ])('%s is an error', (_n, text, problem) => {
    expect(argsOf(text).problems).toEqual([problem])
  })
})

describe('ARG names (instructions parse.go parseArg, ONBUILD)', () => {
  it.each([
    ['quoted names keep their quotes', 'FROM a\nARG "QK"=1\n', ['"QK"']],
    ['ONBUILD ARG declares nothing here', 'FROM a\nONBUILD ARG X\nARG Y\n', ['Y']],
    ['several, any case', 'FROM a\narg A B=1 C="x y"\n', ['A', 'B', 'C']]
  ])('%s', (_n, text, args) => {
    expect(argsOf(text).stages[0]?.[1]).toEqual(args)
  })

  it.each([
    ['an instruction before FROM', 'ARG A\nRUN x\n', '2: no build stage in current context'],
    ['an unknown instruction', 'FROM a\nFOO bar\n', '2: unknown instruction: FOO'],
    [
      'a bad stage name',
      'FROM a AS 1x\n',
      '1: invalid name for build stage: "1x", name can\'t start with a number or contain symbols'
    ],
    ['FROM with two words', 'FROM a b\n', '1: FROM requires either one or three arguments'],
    ['ONBUILD FROM', 'FROM a\nONBUILD FROM b\n', "2: FROM isn't allowed as an ONBUILD trigger"],
    ['an unknown flag', 'FROM a\nCOPY --user=me a b\n', '2: unknown flag: --user'],
    [
      'a JSON array of other things',
      'FROM a\nRUN ["a", 1]\n',
      '2: RUN: the JSON form must be an array of strings'
    ],
    ['no instructions', '# only a comment\n', '1: file with no instructions']
  ])('%s is an error', (_n, text, problem) => {
    expect(argsOf(text).problems).toEqual([problem])
  })
})

describe('the model (dockerfile2llb convert.go)', () => {
  const text = [
    'ARG BASE=alpine',
    'ARG TAG=3.${MINOR:-20}',
    'FROM --platform=$BUILDPLATFORM ${BASE}:${TAG} AS Build',
    'ARG X',
    'RUN --mount=type=cache,target=/c make',
    'FROM scratch AS assets',
    'FROM build AS development',
    'FROM Build AS upper',
    'FROM 0 AS byindex',
    'FROM development'
  ].join('\n')
  const m = parseDockerfile(text)

  it('keeps stages, flags and global ARGs as written', () => {
    expect(m.problems).toEqual([])
    expect(m.globalArgs).toEqual([
      { name: 'BASE', default: 'alpine', line: 1, col: 1 },
      { name: 'TAG', default: '3.${MINOR:-20}', line: 2, col: 1 }
    ])
    expect(m.stages[0]).toMatchObject({
      index: 0,
      name: 'Build',
      from: '${BASE}:${TAG}',
      platform: '$BUILDPLATFORM',
      line: 3
    })
    expect(m.stages[0]?.instructions.map(i => [i.keyword, i.text, i.flags])).toEqual([
      ['ARG', 'X', []],
      ['RUN', 'make', ['--mount=type=cache,target=/c']]
    ])
  })

  it('resolves FROM with global ARG defaults, build args winning (buildMetaArgs)', () => {
    expect(resolveFrom(m, m.stages[0]!, {})).toBe('alpine:3.20')
    expect(resolveFrom(m, m.stages[0]!, { BASE: 'debian', MINOR: '9' })).toBe('debian:3.20')
    expect(resolveFrom(m, m.stages[0]!, { TAG: 'x' })).toBe('alpine:x')
    expect(resolveFrom(m, m.stages[1]!, {})).toBeNull()
    expect(resolveFrom(m, m.stages[2]!, {})).toBeNull()
  })

  it('names stages case-insensitively for targets, FROM by lower-case name only (addState)', () => {
    expect(finalStage(m, 'DEVELOPMENT')?.name).toBe('development')
    expect(finalStage(m, 'nope')?.index).toBe(m.stages.length - 1)
    expect(finalStage(m, null)?.index).toBe(m.stages.length - 1)
    // `FROM Build` is an image named Build to BuildKit, `FROM 0` an image named 0.
    expect(resolveFrom(m, m.stages[3]!, {})).toBe('Build')
    expect(resolveFrom(m, m.stages[4]!, {})).toBe('0')
  })

  it('follows the final stage through the stages it is FROM', () => {
    expect(imageStages(m, null).map(s => s.index)).toEqual([5, 2, 0])
    expect(imageStages(m, 'upper').map(s => s.index)).toEqual([3])
    expect(imageStages(m, 'assets').map(s => s.index)).toEqual([1])
  })
})
