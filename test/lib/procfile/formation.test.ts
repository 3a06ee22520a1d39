import {expect} from 'chai'

import {CliError, UsageError} from '../../../src/lib/errors.js'
import {parseFormation, resolveFormation} from '../../../src/lib/procfile/formation.js'
import {parseProcfile} from '../../../src/lib/procfile/procfile.js'
import {randomText, seededRandom} from './fuzz.js'

describe('parseFormation', () => {
  const valid: Array<[string, Array<[string, number]>]> = [
    ['tcp=2', [['tcp', 2]]],
    [
      'tcp=2,web=1',
      [
        ['tcp', 2],
        ['web', 1],
      ],
    ],
    ['tcp:3', [['tcp', 3]]],
    [
      ' tcp = 2 , web : 0 ',
      [
        ['tcp', 2],
        ['web', 0],
      ],
    ],
    [
      'all=2,web=1',
      [
        ['all', 2],
        ['web', 1],
      ],
    ],
    ['my_worker-1=100', [['my_worker-1', 100]]],
  ]
  for (const [spec, expected] of valid) {
    it(`parses ${JSON.stringify(spec)}`, () => {
      expect([...parseFormation(spec)]).to.deep.equal(expected)
    })
  }

  const invalid: Array<[string, RegExp]> = [
    ['', /formation is empty/],
    ['tcp', /entry "tcp" in "tcp": expected type=count/],
    ['tcp=2,,web=1', /entry "" in/],
    ['tcp=2,', /entry "" in/],
    ['tcp=-1', /count "-1" for "tcp".*0 to 100/],
    ['tcp=101', /count "101" for "tcp"/],
    ['tcp=1.5', /count "1.5"/],
    ['tcp=two', /count "two"/],
    ['tcp=1e2', /count "1e2"/],
    ['t.cp=1', /entry "t.cp=1"/],
    ['tcp=1,tcp=2', /"tcp" appears twice/],
  ]
  for (const [spec, message] of invalid) {
    it(`refuses ${JSON.stringify(spec)} with a usage error naming the bad part`, () => {
      expect(() => parseFormation(spec))
        .to.throw(UsageError, message)
        .with.property('exitCode', 2)
    })
  }

  it('never throws anything but a UsageError on random input (seeded fuzz)', () => {
    const random = seededRandom(3)
    for (let i = 0; i < 3000; i++) {
      const spec = randomText(random, ['tcp', 'web', 'all', '=', ':', ',', ' ', '1', '0', '-', '100', '9'], 12)
      try {
        for (const [, count] of parseFormation(spec)) expect(count).to.be.within(0, 100)
      } catch (error) {
        expect(error, JSON.stringify(spec)).to.be.instanceOf(UsageError)
      }
    }
  })
})

describe('resolveFormation', () => {
  const procfile = parseProcfile('web: npm start\ntcp: node tcp.js\nworker: node w.js\npostdeploy: ./migrate')
  const brief = (options: Parameters<typeof resolveFormation>[1]) =>
    resolveFormation(procfile, options)
      .map(({type, count}) => `${type}=${count}`)
      .join(',')

  it('starts one of each long-running type by default, in Procfile order, never postdeploy', () => {
    expect(resolveFormation(procfile, {})).to.deep.equal([
      {type: 'web', command: 'npm start', count: 1},
      {type: 'tcp', command: 'node tcp.js', count: 1},
      {type: 'worker', command: 'node w.js', count: 1},
    ])
  })

  it('applies the formation, all=N as the default', () => {
    expect(brief({formation: 'tcp=3'})).to.equal('web=1,tcp=3,worker=1')
    expect(brief({formation: 'all=0,tcp=2'})).to.equal('web=0,tcp=2,worker=0')
    expect(brief({formation: 'all=2'})).to.equal('web=2,tcp=2,worker=2')
  })

  it('filters with --only (repeated or comma-separated)', () => {
    expect(brief({only: ['tcp']})).to.equal('tcp=1')
    expect(brief({only: ['tcp,worker'], formation: 'tcp=2'})).to.equal('tcp=2,worker=1')
    expect(brief({only: ['tcp', 'web']})).to.equal('web=1,tcp=1')
  })

  it('refuses unknown types in the formation and in --only, listing the Procfile types', () => {
    for (const options of [{formation: 'tcp=1,mqtt=1'}, {only: ['mqtt']}]) {
      expect(() => resolveFormation(procfile, options))
        .to.throw(UsageError, /Unknown process type "mqtt"/)
        .with.property('suggestions')
        .that.deep.equals(['The Procfile defines: web, tcp, worker.'])
    }

    expect(() => resolveFormation(procfile, {formation: 'postdeploy=1'})).to.throw(
      UsageError,
      /runs once after a deployment/,
    )
  })

  it('requires a tcp line in the Procfile (exit 1), like the platform', () => {
    const error = (() => {
      try {
        resolveFormation(parseProcfile('web: npm start'), {})
      } catch (error_) {
        return error_ as CliError
      }
    })()
    expect(error).to.be.instanceOf(CliError).and.not.be.instanceOf(UsageError)
    expect(error?.exitCode).to.equal(1)
    expect(error?.message).to.include('no `tcp` process type')
    expect(error?.suggestions[0]).to.include('tcp: node server.js')
  })

  it('requires at least one tcp instance after the formation and --only (usage error)', () => {
    expect(() => resolveFormation(procfile, {formation: 'tcp=0'})).to.throw(UsageError, /scales `tcp` to 0/)
    expect(() => resolveFormation(procfile, {only: ['web']})).to.throw(UsageError, /--only leaves out the `tcp` type/)
  })

  it('allows no tcp type when requireTcp is false (upstreams only)', () => {
    expect(resolveFormation(parseProcfile('web: npm start'), {requireTcp: false})).to.have.length(1)
  })
})
