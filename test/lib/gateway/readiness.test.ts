import {expect} from 'chai'
import {once} from 'node:events'
import {createServer, type Server, type Socket} from 'node:net'

import {TimeoutError} from '../../../src/lib/errors.js'
import {freePort} from '../../../src/lib/gateway/ports.js'
import {waitForAccept} from '../../../src/lib/gateway/readiness.js'

describe('waitForAccept', () => {
  let server: Server | undefined
  let scheduled: NodeJS.Timeout | undefined
  afterEach(() => {
    clearTimeout(scheduled)
    server?.close()
    server = undefined
  })

  it('resolves once a server that starts listening later accepts a probe, and closes the probe at once', async () => {
    const port = await freePort()
    const accepted: Socket[] = []
    server = createServer((socket) => accepted.push(socket))
    const waiting = waitForAccept('127.0.0.1', port, {timeoutMs: 5000, intervalMs: 10})
    // The server is not listening yet: the first probes are refused. It starts on its own schedule.
    scheduled = setTimeout(() => server!.listen({host: '127.0.0.1', port}), 100)
    const startedAt = Date.now()
    await waiting
    expect(Date.now() - startedAt).to.be.at.least(50)
    expect(accepted).to.have.length.at.least(1)
    // The probe closes its side right away: the server sees the end of the stream.
    const probe = accepted[0]
    if (!probe.readableEnded) await once(probe, 'end')
    probe.destroy()
  })

  it('rejects with a TimeoutError (exit code 5) when nothing ever accepts', async () => {
    const port = await freePort()
    const startedAt = Date.now()
    const error = await waitForAccept('127.0.0.1', port, {timeoutMs: 200, intervalMs: 10}).then(
      () => null,
      (error_: unknown) => error_,
    )
    expect(error).to.be.instanceOf(TimeoutError)
    expect((error as TimeoutError).exitCode).to.equal(5)
    expect((error as TimeoutError).message).to.equal(
      `Nothing accepted a TCP connection on 127.0.0.1:${port} within 200 ms.`,
    )
    expect(Date.now() - startedAt).to.be.within(190, 2000)
  })

  it('stops probing when its AbortSignal fires', async () => {
    const port = await freePort()
    const controller = new AbortController()
    const waiting = waitForAccept('127.0.0.1', port, {timeoutMs: 10_000, intervalMs: 10, signal: controller.signal})
    controller.abort()
    const error = await waiting.then(
      () => null,
      (error_: unknown) => error_,
    )
    expect((error as Error).name).to.equal('AbortError')
  })
})

describe('freePort', () => {
  it('returns a port nothing listens on, which a server can then bind', async () => {
    const port = await freePort()
    expect(port).to.be.within(1024, 65_535)
    const server = createServer()
    server.listen({host: '127.0.0.1', port})
    await once(server, 'listening')
    server.close()
  })
})
