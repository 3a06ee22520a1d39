import {expect} from 'chai'
import {mkdtemp, rm, writeFile, mkdir, chmod} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ParseError} from '../../../src/lib/procfile/parse-error.js'
import {CliError} from '../../../src/lib/errors.js'
import {parseProcfile, readProcfile} from '../../../src/lib/procfile/procfile.js'
import {randomText, seededRandom} from './fuzz.js'

describe('parseProcfile', () => {
  const valid: Array<[string, string, Array<[string, string, number]>]> = [
    ['one line', 'tcp: node server.js', [['tcp', 'node server.js', 1]]],
    [
      'two lines with comments and blanks',
      '# app\n\nweb: npm start\n  # indented comment\ntcp: npm run start-tcp\n',
      [
        ['web', 'npm start', 3],
        ['tcp', 'npm run start-tcp', 5],
      ],
    ],
    [
      'CRLF line endings',
      'web: a\r\ntcp: b\r\n',
      [
        ['web', 'a', 1],
        ['tcp', 'b', 2],
      ],
    ],
    ['no space after the colon', 'tcp:node s.js', [['tcp', 'node s.js', 1]]],
    [
      'colons inside the command',
      'tcp: node s.js --listen 0.0.0.0:3000',
      [['tcp', 'node s.js --listen 0.0.0.0:3000', 1]],
    ],
    ['a byte order mark', '\uFEFFtcp: x', [['tcp', 'x', 1]]],
    ['surrounding whitespace', '   tcp:    node s.js   ', [['tcp', 'node s.js', 1]]],
    ['foreman-style names', 'my_worker-2: run', [['my_worker-2', 'run', 1]]],
  ]
  for (const [title, text, expected] of valid) {
    it(`parses ${title}`, () => {
      const {entries} = parseProcfile(text)
      expect(entries.map((e) => [e.name, e.command, e.line])).to.deep.equal(expected)
    })
  }

  it('warns, without refusing, about names Scalingo refuses', () => {
    const {entries, warnings} = parseProcfile('tcp: a\nmy_worker: b\nabcdefghijklmnopqrstuvwxy: c\nok123: d')
    expect(entries).to.have.length(4)
    expect(warnings).to.have.length(2)
    expect(warnings[0]).to.match(/^Procfile line 2: .*"my_worker"/)
    expect(warnings[1]).to.match(/^Procfile line 3: .*at most 24 characters/)
  })

  it('keeps postdeploy but flags it as one-off', () => {
    const {entries} = parseProcfile('tcp: a\npostdeploy: ./migrate')
    expect(entries[1]).to.include({name: 'postdeploy', oneOff: true})
    expect(entries[0].oneOff).to.equal(undefined)
  })

  const invalid: Array<[string, string, RegExp, number | undefined]> = [
    [
      'a line without a colon',
      'tcp: a\n\nnode server.js',
      /^Procfile line 3: expected `name: command`, got "node server.js"/,
      3,
    ],
    ['an invalid name', 'my.app: run', /^Procfile line 1: invalid process type name "my.app"/, 1],
    ['a name with spaces', 'my app: run', /^Procfile line 1: invalid process type name "my app"/, 1],
    ['a missing name', ': run', /^Procfile line 1: invalid process type name ""/, 1],
    ['an empty command', 'tcp: a\nweb:   ', /^Procfile line 2: process type "web" has an empty command/, 2],
    [
      'a duplicate name',
      'tcp: a\nweb: b\ntcp: c',
      /^Procfile line 3: duplicate process type "tcp" \(already defined on line 1\)/,
      3,
    ],
    ['an empty file', '', /^Procfile defines no process types/, undefined],
    ['a file with only comments', '# nothing\n\n', /^Procfile defines no process types/, undefined],
    ['binary content', 'tcp: a\0b', /binary data/, undefined],
    ['huge content', 'tcp: a\n' + '#'.repeat(1024 * 1024 + 1), /larger than 1 MB/, undefined],
  ]
  for (const [title, text, message, line] of invalid) {
    it(`refuses ${title}`, () => {
      expect(() => parseProcfile(text))
        .to.throw(ParseError, message)
        .with.property('line', line)
    })
  }

  it('names the source it was given', () => {
    expect(() => parseProcfile('oops', 'Procfile.dev')).to.throw(/^Procfile.dev line 1:/)
  })

  it('shortens a huge line in the error message', () => {
    try {
      parseProcfile('x'.repeat(100_000))
      expect.fail('should have thrown')
    } catch (error) {
      expect((error as Error).message.length).to.be.below(200)
    }
  })

  it('never throws anything but a ParseError on random input (seeded fuzz)', () => {
    const random = seededRandom(42)
    for (let i = 0; i < 3000; i++) {
      const text = randomText(random, [
        'tcp',
        'web',
        ':',
        ' ',
        '\n',
        '\r\n',
        '#',
        '-',
        '_',
        '\0',
        'é',
        '\uFEFF',
        'node x',
      ])
      try {
        const {entries} = parseProcfile(text)
        for (const entry of entries) expect(entry.command).to.not.equal('')
      } catch (error) {
        expect(error, JSON.stringify(text)).to.be.instanceOf(ParseError)
      }
    }
  })
})

describe('readProcfile', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'procfile-'))
  })
  after(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('reads and parses a file, naming it in errors', async () => {
    await writeFile(join(dir, 'Procfile'), 'tcp: node server.js\n')
    expect((await readProcfile(join(dir, 'Procfile'))).entries[0].command).to.equal('node server.js')
    await writeFile(join(dir, 'Bad'), 'tcp: a\nbroken\n')
    const error = await readProcfile(join(dir, 'Bad')).catch((error_) => error_)
    expect(error).to.be.instanceOf(ParseError)
    expect(error.message).to.equal(`${join(dir, 'Bad')} line 2: expected \`name: command\`, got "broken".`)
  })

  it('reports a missing Procfile with suggestions (-f, --upstream), exit 1', async () => {
    const error = await readProcfile(join(dir, 'nope')).catch((error_) => error_)
    expect(error).to.be.instanceOf(CliError)
    expect(error.exitCode).to.equal(1)
    expect(error.message).to.include('No Procfile found at')
    expect(error.suggestions.join('\n')).to.include('-f/--procfile').and.include('--upstream')
  })

  it('refuses a directory, a binary file, invalid UTF-8 and a huge file', async () => {
    await mkdir(join(dir, 'adir'))
    await writeFile(join(dir, 'bin'), Buffer.from([0x74, 0x63, 0x70, 0x3a, 0x00, 0x01]))
    await writeFile(join(dir, 'latin1'), Buffer.from([0x74, 0x63, 0x70, 0x3a, 0x20, 0xe9, 0x0a]))
    await writeFile(join(dir, 'huge'), 'tcp: a\n' + '#'.repeat(2 * 1024 * 1024))
    const cases: Array<[string, RegExp]> = [
      ['adir', /is a directory/],
      ['bin', /binary data/],
      ['latin1', /not valid UTF-8/],
      ['huge', /larger than 1 MB/],
    ]
    for (const [name, message] of cases) {
      const error = await readProcfile(join(dir, name)).catch((error_) => error_)
      expect(error, name).to.be.instanceOf(ParseError)
      expect(error.message, name).to.match(message)
    }
  })

  it('reports an unreadable file', async function () {
    if (process.getuid?.() === 0) this.skip() // root reads anything
    await writeFile(join(dir, 'secret'), 'tcp: a')
    await chmod(join(dir, 'secret'), 0o000)
    const error = await readProcfile(join(dir, 'secret')).catch((error_) => error_)
    expect(error.message).to.match(/permission denied/)
  })
})
