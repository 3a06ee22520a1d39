import {expect} from 'chai'
import {once} from 'node:events'
import {createServer} from 'node:net'

import {CliError} from '../../../src/lib/errors.js'
import {Gateway} from '../../../src/lib/gateway/gateway.js'
import {rejectionReason} from '../../../src/lib/proxy/gateway-events.js'
import {gatewayCliError} from '../../../src/lib/proxy/options.js'

describe("the gateway's errors and rejections in terms of tcp:proxy's flags", () => {
  it('turns a port in use (a real listen) into a CliError that suggests --port', async () => {
    const blocker = createServer()
    blocker.listen({host: '127.0.0.1', port: 0})
    await once(blocker, 'listening')
    const {port} = blocker.address() as {port: number}
    const gateway = new Gateway({host: '127.0.0.1', port, io: 'streams'})
    try {
      const error = gatewayCliError(
        await gateway.listen().then(
          () => null,
          (error_: unknown) => error_,
        ),
      )
      expect(error).to.be.instanceOf(CliError)
      const {message, exitCode, suggestions, code} = error as CliError
      expect({message, exitCode, suggestions, code}).to.deep.equal({
        message: `Port ${port} on 127.0.0.1 is already in use.`,
        exitCode: 1,
        code: 'EADDRINUSE',
        suggestions: ['Pass --port <another port>, or stop the program using it.'],
      })
    } finally {
      gateway.destroy()
      blocker.close()
    }
  })

  it('turns an address of another machine into a CliError that suggests --host', async () => {
    // TEST-NET-1 (RFC 5737): never an address of this machine.
    const gateway = new Gateway({host: '192.0.2.1', port: 0, io: 'streams'})
    const error = gatewayCliError(
      await gateway.listen().then(
        () => null,
        (error_: unknown) => error_,
      ),
    ) as CliError
    gateway.destroy()
    expect(error).to.be.instanceOf(CliError)
    expect(error.message).to.equal('Address 192.0.2.1 does not belong to this machine.')
    expect(error.suggestions[0]).to.contain('--host 127.0.0.1')
  })

  it('leaves any other error alone', () => {
    const other = new Error('boom')
    expect(gatewayCliError(other)).to.equal(other)
  })

  it('names --max-connections when a client hit the limit, and keeps the gateway words otherwise', () => {
    expect(rejectionReason({cause: 'connection-limit', limit: 10})).to.equal(
      '10 connections already open (--max-connections)',
    )
    expect(rejectionReason({cause: 'no-free-slot', limit: 1, waitedMs: 300})).to.equal(
      'no connection slot freed up (--max-connections 1) within 300 ms',
    )
    expect(rejectionReason({cause: 'no-ready-backend', waitedMs: 150})).to.equal(
      'no backend became ready within 150 ms',
    )
  })
})
