import {expect} from 'chai'
import {randomBytes} from 'node:crypto'

import {REDACTED, redact, registerSecret} from '../../src/lib/secrets.js'

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
})
