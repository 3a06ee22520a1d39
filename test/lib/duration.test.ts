import {expect} from 'chai'

import {formatDuration, parseDuration, parseDurationRange} from '../../src/lib/duration.js'
import {UsageError} from '../../src/lib/errors.js'
import {randomText, seededRandom} from './procfile/fuzz.js'

describe('parseDuration', () => {
  const valid: Array<[string, number]> = [
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['30', 30_000],
    ['0', 0],
    ['0s', 0],
    ['1.5s', 1500],
    ['0.25', 250],
    [' 10s ', 10_000],
  ]
  for (const [text, ms] of valid) {
    it(`parses ${JSON.stringify(text)} as ${ms} ms`, () => {
      expect(parseDuration(text)).to.equal(ms)
    })
  }

  for (const text of ['', 'abc', '-5s', '5 s', '5sec', '1d', '5S', '.5s', 's', '1m30', '1e3', 'Infinity', '10000h']) {
    it(`refuses ${JSON.stringify(text)} naming the input and the accepted forms`, () => {
      expect(() => parseDuration(text))
        .to.throw(UsageError, JSON.stringify(text))
        .with.property('suggestions')
        .that.satisfies((s: string[]) => s.some((line) => line.includes('1m30s')))
    })
  }

  it('never throws anything but a UsageError on random input (seeded fuzz)', () => {
    const random = seededRandom(11)
    for (let i = 0; i < 3000; i++) {
      const text = randomText(random, ['1', '0', '9', '.', 'ms', 's', 'm', 'h', ' ', '..', '-'], 10)
      try {
        expect(parseDuration(text)).to.be.a('number').that.is.at.least(0)
        const {minMs, maxMs} = parseDurationRange(text)
        expect(minMs).to.be.at.most(maxMs)
      } catch (error) {
        expect(error, JSON.stringify(text)).to.be.instanceOf(UsageError)
      }
    }
  })
})

describe('parseDurationRange', () => {
  it('parses a single duration and a MIN..MAX range', () => {
    expect(parseDurationRange('5m')).to.deep.equal({minMs: 300_000, maxMs: 300_000})
    expect(parseDurationRange('30s..2m')).to.deep.equal({minMs: 30_000, maxMs: 120_000})
    expect(parseDurationRange('1s..1s')).to.deep.equal({minMs: 1000, maxMs: 1000})
  })

  it('refuses malformed and inverted ranges', () => {
    expect(() => parseDurationRange('2m..30s')).to.throw(UsageError, /minimum is larger than the maximum/)
    expect(() => parseDurationRange('1s..2s..3s')).to.throw(UsageError, /Invalid duration range "1s..2s..3s"/)
    expect(() => parseDurationRange('..2s')).to.throw(UsageError, /Invalid duration ""/)
    expect(() => parseDurationRange('1x..2s')).to.throw(UsageError, /Invalid duration "1x"/)
  })
})

describe('formatDuration', () => {
  it('says milliseconds below a second and tenths of seconds from one up', () => {
    expect([0, 250, 999, 1000, 1500, 60_000, 1234].map(formatDuration)).to.deep.equal([
      '0 ms',
      '250 ms',
      '999 ms',
      '1 s',
      '1.5 s',
      '60 s',
      '1.2 s',
    ])
  })
})
