import {expect} from 'chai'
import {randomBytes} from 'node:crypto'

import {REDACTED, redact, registerSecret} from '../../src/lib/secrets.js'
import {randomText, seededRandom} from './procfile/fuzz.js'

/** The expressions redact() used to apply with String.prototype.replace(): what it must still hide. */
function redactByExpressions(text: string): string {
  return text
    .replace(/tk-us-[A-Za-z0-9_-]+/g, REDACTED)
    .replace(/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED)
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, (_match, scheme: string) => `${scheme} ${REDACTED}`)
}

/**
 * Lines built to make a backtracking matcher quadratic: runs of `eyJ` that never become a JWT,
 * almost-JWTs, token prefixes, Authorization schemes followed by whitespace and nothing.
 */
const ADVERSARIAL = ['eyJ-', 'eyJa-', 'eyJa.', 'eyJa.b-', 'xeyJ', '.eyJ', 'tk-us-', 'Bearer ', 'Basic\t', 'bearer  !']

function line(unit: string, length: number): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length)
}

/**
 * The best of a few timings of `run`, in ms. Stops early once the runs took long in total, so a
 * quadratic redact() fails the test in seconds instead of minutes.
 */
function bestTime(run: () => void): number {
  let best = Number.POSITIVE_INFINITY
  let total = 0
  for (let i = 0; i < 7 && total < 300; i++) {
    const start = process.hrtime.bigint()
    run()
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    best = Math.min(best, ms)
    total += ms
  }

  return best
}

describe('secrets: redact()', () => {
  it('hides a registered value wherever it appears, even without a known shape', () => {
    const secret = `s3cr3t-${randomBytes(6).toString('hex')}`
    registerSecret(secret)
    expect(redact(`a ${secret} b ${secret}`)).to.equal(`a ${REDACTED} b ${REDACTED}`)
  })

  it('does not register values too short to be secrets (they would blank out ordinary words)', () => {
    registerSecret('abc')
    registerSecret('')
    registerSecret(undefined)
    expect(redact('abc abcdef')).to.equal('abc abcdef')
  })

  it('hides API tokens and JWTs that were never registered', () => {
    const token = `tk-us-${randomBytes(18).toString('base64url')}`
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1cy0xIn0.c2lnbmF0dXJl'
    const text = redact(`token=${token} jwt:${jwt}.`)
    expect(text).to.equal(`token=${REDACTED} jwt:${REDACTED}.`)
  })

  it('keeps the scheme of an Authorization header and hides its credentials, whatever the case', () => {
    expect(redact('Authorization: Bearer abc.def-ghi')).to.equal(`Authorization: Bearer ${REDACTED}`)
    expect(redact('authorization: basic OnRrLXVz')).to.equal(`authorization: basic ${REDACTED}`)
  })

  it('leaves text without secrets as it is', () => {
    const text = 'GET /v1/apps/my-app/variables 200 (12 ms) eyes: tk-'
    expect(redact(text)).to.equal(text)
  })

  it('finds exactly what the expressions found, on random text (seeded fuzz)', () => {
    const random = seededRandom(13)
    const fragments = [
      'eyJ',
      'eyJhbGci',
      '.',
      '-',
      '_',
      'a',
      'Z',
      '9',
      ' ',
      '\t',
      'tk-us-',
      'Bearer',
      'basic',
      '=',
      '/',
      'é',
      'x.y',
    ]
    for (let i = 0; i < 20_000; i++) {
      const text = randomText(random, fragments)
      expect(redact(text), JSON.stringify(text)).to.equal(redactByExpressions(text))
    }
  })

  it('is linear in the line length: per byte, a 64 KB line costs no more than a 4 KB one, whatever it holds', function () {
    this.timeout(60_000)
    // Lines are at most 64 KB (the supervisor cuts longer ones). Backtracking from every `eyJ` to the
    // end of the line makes a 64 KB line cost 16 times as much per byte as a 4 KB one (2.4 s against
    // 10 ms for `eyJ-eyJ-…`); linear scanning makes them equal. 4 leaves room for noise.
    const ratios: Record<string, number> = {}
    for (const unit of ADVERSARIAL) {
      const short = line(unit, 4096)
      const long = line(unit, 65_536)
      redact(short)
      const sixteenShort = bestTime(() => {
        for (let i = 0; i < 16; i++) redact(short)
      })
      const oneLong = bestTime(() => redact(long))
      ratios[JSON.stringify(unit)] = Math.round((oneLong / sixteenShort) * 10) / 10
    }

    if (process.env.SHOW_RATIOS) console.log(ratios)
    for (const [unit, ratio] of Object.entries(ratios))
      expect(ratio, `${unit}: ${JSON.stringify(ratios)}`).to.be.below(4)
  })

  it('still hides a JWT, a token and credentials at the end of a 64 KB adversarial line', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1cy0xIn0.c2lnbmF0dXJl'
    const token = `tk-us-${randomBytes(18).toString('base64url')}`
    for (const unit of ADVERSARIAL) {
      const prefix = line(unit, 65_000)
      const text = redact(`${prefix} ${jwt} ${token} Authorization: Bearer abc.def`)
      expect(text).to.not.include(jwt)
      expect(text).to.not.include(token.slice(6))
      expect(text).to.not.include('abc.def')
      expect(text.endsWith(` ${REDACTED} ${REDACTED} Authorization: Bearer ${REDACTED}`)).to.equal(true)
    }
  })
})
