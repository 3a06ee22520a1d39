import {expect} from 'chai'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ParseError} from '../../../src/lib/procfile/parse-error.js'
import {loadEnvFiles, parseDotenv} from '../../../src/lib/procfile/dotenv.js'
import {randomText, seededRandom} from './fuzz.js'

describe('parseDotenv', () => {
  const valid: Array<[string, string, Record<string, string>]> = [
    ['a plain assignment', 'KEY=value', {KEY: 'value'}],
    ['the export prefix', 'export KEY=value\nexport\tOTHER=x', {KEY: 'value', OTHER: 'x'}],
    ['comments and blank lines', '# c\n\n  # indented\nA=1\n', {A: '1'}],
    ['an inline comment on an unquoted value', 'A=1 # one\nB=2\t# two', {A: '1', B: '2'}],
    [
      'a # without whitespace before it as part of the value',
      'COLOR=#fff\nURL=http://x/#frag',
      {COLOR: '#fff', URL: 'http://x/#frag'},
    ],
    ['a comment right after the =', 'A= # nothing', {A: ''}],
    ['whitespace around unquoted values and the =', 'A =   spaced out  \nB= x', {A: 'spaced out', B: 'x'}],
    ['empty values', 'A=\nB=""\nC=\'\'', {A: '', B: '', C: ''}],
    ['single quotes literally', 'A=\'a \\n $B "x" # no comment\'', {A: 'a \\n $B "x" # no comment'}],
    ['backticks literally', 'A=`it\'s "fine" \\n`', {A: 'it\'s "fine" \\n'}],
    ['double-quote escapes', 'A="l1\\nl2\\tt \\"q\\" back\\\\slash \\r"', {A: 'l1\nl2\tt "q" back\\slash \r'}],
    ['unknown escapes kept as written', 'A="\\d\\$"', {A: '\\d\\$'}],
    ['a comment after a quoted value', 'A="x" # c\nB=\'y\'   # c', {A: 'x', B: 'y'}],
    ['# inside double quotes', 'A="a # b"', {A: 'a # b'}],
    [
      'multi-line double-quoted values',
      'KEY="-----BEGIN-----\nabc  \n-----END-----"\nNEXT=1',
      {KEY: '-----BEGIN-----\nabc  \n-----END-----', NEXT: '1'},
    ],
    ['CRLF line endings', 'A=1\r\nB="x\r\ny"\r\n', {A: '1', B: 'x\ny'}],
    ['no variable expansion', 'A=1\nB=$A\nC="${A}"', {A: '1', B: '$A', C: '${A}'}],
    ['later assignments overriding earlier ones', 'A=1\nA=2', {A: '2'}],
    ['= inside values', 'URL=postgres://u:p@h/db?a=b', {URL: 'postgres://u:p@h/db?a=b'}],
    ['a __proto__ name as an ordinary variable', '__proto__=x', {['__proto__']: 'x'}],
  ]
  for (const [title, text, expected] of valid) {
    it(`parses ${title}`, () => {
      const parsed = parseDotenv(text)
      expect(Object.entries(parsed)).to.deep.equal(Object.entries(expected))
    })
  }

  const invalid: Array<[string, string, RegExp, number]> = [
    ['a line without =', 'A=1\nJUST_A_NAME', /^\.env line 2: expected `NAME=value`, got "JUST_A_NAME"/, 2],
    ['export without =', 'export A', /^\.env line 1: expected `NAME=value`/, 1],
    ['a name starting with a digit', '1A=x', /^\.env line 1: invalid variable name "1A"/, 1],
    ['a name with a dash', 'A\n'.replace('A\n', '') + 'MY-VAR=x', /^\.env line 1: invalid variable name "MY-VAR"/, 1],
    ['an empty name', '=x', /^\.env line 1: invalid variable name ""/, 1],
    ['an unterminated single quote', "A=1\nB='abc", /^\.env line 2: unterminated ' quote in the value of B/, 2],
    ['an unterminated backtick', 'B=`abc', /^\.env line 1: unterminated ` quote/, 1],
    ['an unterminated double quote', 'A=1\nB="abc\nC=2\n', /^\.env line 2: unterminated " quote/, 2],
    ['text after the closing quote', 'A="x"y', /^\.env line 1: unexpected text "y" after the closing quote/, 1],
    ['text after a multi-line value', 'A="x\ny" z', /^\.env line 1: unexpected text "z"/, 1],
  ]
  for (const [title, text, message, line] of invalid) {
    it(`refuses ${title}`, () => {
      expect(() => parseDotenv(text))
        .to.throw(ParseError, message)
        .with.property('line', line)
    })
  }

  it('refuses binary content and names the source', () => {
    expect(() => parseDotenv('A=\0', 'prod.env')).to.throw(ParseError, /^prod.env contains binary data/)
    expect(() => parseDotenv('nope', 'prod.env')).to.throw(ParseError, /^prod.env line 1:/)
  })

  it('never throws anything but a ParseError on random input (seeded fuzz)', () => {
    const random = seededRandom(7)
    const fragments = [
      'A',
      'B_1',
      '=',
      ' ',
      '\t',
      '\n',
      '\r\n',
      '#',
      '"',
      "'",
      '`',
      '\\',
      '\\n',
      'export ',
      '$A',
      'é',
      '\0',
    ]
    for (let i = 0; i < 3000; i++) {
      const text = randomText(random, fragments)
      try {
        const parsed = parseDotenv(text)
        for (const [name, value] of Object.entries(parsed)) {
          expect(name).to.match(/^[A-Za-z_][A-Za-z0-9_]*$/)
          expect(value).to.be.a('string')
        }
      } catch (error) {
        expect(error, JSON.stringify(text)).to.be.instanceOf(ParseError)
      }
    }
  })
})

describe('loadEnvFiles', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dotenv-'))
  })
  after(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('merges files in order, later files overriding earlier ones', async () => {
    await writeFile(join(dir, 'a.env'), 'A=1\nB=1\n')
    await writeFile(join(dir, 'b.env'), 'B=2\nC=2\n')
    expect(await loadEnvFiles([join(dir, 'a.env'), join(dir, 'b.env')])).to.deep.equal({A: '1', B: '2', C: '2'})
    expect(await loadEnvFiles([])).to.deep.equal({})
  })

  it('names the file and line of a malformed line', async () => {
    await writeFile(join(dir, 'bad.env'), 'A=1\n\nB="open\n')
    const error = await loadEnvFiles([join(dir, 'bad.env')]).catch((error_) => error_)
    expect(error).to.be.instanceOf(ParseError)
    expect(error.exitCode).to.equal(1)
    expect(error.message).to.match(new RegExp(`^${join(dir, 'bad.env')} line 3: unterminated`))
  })

  it('reports a missing file, exit 1', async () => {
    const error = await loadEnvFiles([join(dir, 'missing.env')]).catch((error_) => error_)
    expect(error).to.be.instanceOf(ParseError)
    expect(error.exitCode).to.equal(1)
    expect(error.message).to.include('missing.env: no such file')
  })
})
