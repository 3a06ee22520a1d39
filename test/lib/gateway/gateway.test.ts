import {expect} from 'chai'
import {createHash, randomBytes} from 'node:crypto'
import {once} from 'node:events'
import {createServer, type Socket} from 'node:net'

import {GatewayError} from '../../../src/lib/gateway/errors.js'
import {freePort} from '../../../src/lib/gateway/ports.js'
import {requireTransport, TRANSPORTS} from '../../support/transports.js'
import {LineClient, nextEvent, outcome, Resources} from './fixtures.js'

const MiB = 1024 * 1024

for (const io of TRANSPORTS) {
  describe(`Gateway: balancing and the data path (${io})`, () => {
    requireTransport(io)
    const resources = new Resources(io)
    afterEach(() => resources.cleanup())

    async function threeBackends(balance: 'round-robin' | 'least-conn') {
      const context = await resources.gateway({balance})
      for (const id of ['a', 'b', 'c']) {
        const {port} = await resources.idServer(id)
        context.gateway.addBackend({id, host: '127.0.0.1', port, generation: 1})
        context.gateway.setReady(id)
      }

      return context
    }

    it('delivers what a backend sends first, as soon as it accepts (server-speaks-first protocols)', async () => {
      const {gateway, port} = await resources.gateway()
      const banner = Buffer.from('220 ready\r\n'.repeat(500))
      const {port: backendPort} = await resources.server((socket) => {
        socket.end(banner)
      })
      gateway.addBackend({id: 'a', host: '127.0.0.1', port: backendPort, generation: 1})
      gateway.setReady('a')
      const received: Buffer[] = []
      const client = await resources.client(port)
      client.on('data', (chunk: Buffer) => received.push(chunk))
      await once(client, 'end')
      expect(Buffer.concat(received).equals(banner)).to.equal(true)
    })

    it('spreads connections round-robin in a stable order and pins each connection to its backend', async () => {
      const {gateway, port} = await threeBackends('round-robin')
      const landed: string[] = []
      const clients: LineClient[] = []
      for (let index = 0; index < 9; index++) {
        const client = new LineClient(await resources.client(port))
        clients.push(client)
        landed.push(await client.request('hello'))
      }

      expect(landed).to.deep.equal(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c'])
      // Many messages on one connection: always the same backend.
      for (const [index, client] of clients.entries()) {
        for (let message = 0; message < 10; message++)
          expect(await client.request(`m${message}`)).to.equal(landed[index])
      }

      const infos = gateway.backends()
      expect(infos.map((info) => [info.id, info.state, info.active, info.total])).to.deep.equal([
        ['a', 'ready', 3, 3],
        ['b', 'ready', 3, 3],
        ['c', 'ready', 3, 3],
      ])
      expect(gateway.connections).to.deep.equal({active: 9, total: 9})
    })

    it('least-conn sends a new connection to the idle backend', async () => {
      const {gateway, port, events} = await threeBackends('least-conn')
      const first = new LineClient(await resources.client(port))
      const second = new LineClient(await resources.client(port))
      const third = new LineClient(await resources.client(port))
      expect([await first.request('x'), await second.request('x'), await third.request('x')]).to.deep.equal([
        'a',
        'b',
        'c',
      ])
      // b becomes the only idle backend, then a: each time the next connection goes there.
      second.socket.end()
      await nextEvent(gateway, events, 'connection-closed', (event) => event.backend === 'b')
      const fourth = new LineClient(await resources.client(port))
      expect(await fourth.request('x')).to.equal('b')
      first.socket.end()
      await nextEvent(gateway, events, 'connection-closed', (event) => event.backend === 'a')
      const fifth = new LineClient(await resources.client(port))
      expect(await fifth.request('x')).to.equal('a')
      expect(gateway.backends().map((info) => info.active)).to.deep.equal([1, 1, 1])
    })

    it('fails over to another ready backend when one refuses, and counts the failure', async () => {
      const {gateway, port, events} = await resources.gateway()
      const closedPort = await freePort()
      const {port: goodPort} = await resources.idServer('good')
      gateway.addBackend({id: 'refusing', host: '127.0.0.1', port: closedPort, generation: 1})
      gateway.addBackend({id: 'good', host: '127.0.0.1', port: goodPort, generation: 1})
      gateway.setReady('refusing')
      gateway.setReady('good')
      const replies = []
      for (let index = 0; index < 4; index++) {
        replies.push(await new LineClient(await resources.client(port)).request('hi'))
      }

      expect(replies).to.deep.equal(['good', 'good', 'good', 'good'])
      const failure = await nextEvent(gateway, events, 'backend-connect-failed')
      expect(failure).to.deep.equal({type: 'backend-connect-failed', backend: 'refusing', error: 'ECONNREFUSED'})
      const refusing = gateway.backends().find((info) => info.id === 'refusing')!
      expect(refusing.failures).to.equal(2)
      expect(refusing.active).to.equal(0)
      expect(refusing.total).to.equal(0)
    })

    it('resets the client when every ready backend refuses', async () => {
      const {gateway, port, events} = await resources.gateway()
      for (const id of ['x', 'y']) {
        gateway.addBackend({id, host: '127.0.0.1', port: await freePort(), generation: 1})
        gateway.setReady(id)
      }

      const client = resources.rawClient(port)
      const result = await outcome(client)
      expect(result.error).to.equal('ECONNRESET')
      const rejected = await nextEvent(gateway, events, 'client-rejected')
      expect(rejected.reason).to.match(/no ready backend accepted the connection.*ECONNREFUSED/)
      expect(rejected).to.include({cause: 'backends-failed', error: 'ECONNREFUSED'})
      expect(events.filter((event) => event.type === 'backend-connect-failed')).to.have.length(2)
      expect(gateway.connections).to.deep.equal({active: 0, total: 1})
    })

    it('forwards a client half-close: the client still receives the reply after end()', async () => {
      const {gateway, port, events} = await resources.gateway()
      const backend = await resources.server((socket) => {
        let received = ''
        socket.on('data', (chunk) => {
          received += chunk
        })
        socket.on('end', () => socket.end(`got:${received}`))
      })
      gateway.addBackend({id: 'b', host: '127.0.0.1', port: backend.port, generation: 1})
      gateway.setReady('b')
      const client = await resources.client(port, {allowHalfOpen: true})
      const result = outcome(client)
      client.end('hello')
      expect(await result).to.include({ended: true, data: 'got:hello', error: undefined})
      const closed = await nextEvent(gateway, events, 'connection-closed')
      expect(closed).to.include({backend: 'b', bytesIn: 5, bytesOut: 9, reason: 'closed'})
    })

    it('forwards a server half-close: the server still receives the client data after its end()', async () => {
      const {gateway, port} = await resources.gateway()
      let serverReceived!: Promise<string>
      const backend = await resources.server((socket) => {
        serverReceived = new Promise((resolve) => {
          let received = ''
          socket.on('data', (chunk) => {
            received += chunk
          })
          socket.on('end', () => resolve(received))
        })
        socket.end('bye')
      })
      gateway.addBackend({id: 'b', host: '127.0.0.1', port: backend.port, generation: 1})
      gateway.setReady('b')
      const client = await resources.client(port, {allowHalfOpen: true})
      const clientClosed = once(client, 'close')
      let clientReceived = ''
      client.on('data', (chunk) => {
        clientReceived += chunk
      })
      await once(client, 'end')
      expect(clientReceived).to.equal('bye')
      client.end('still here')
      expect(await serverReceived).to.equal('still here')
      await clientClosed
    })

    it('propagates a backend reset to the client as ECONNRESET', async () => {
      const {gateway, port, events} = await resources.gateway()
      const backend = await resources.server((socket) => {
        socket.once('data', () => socket.resetAndDestroy())
      })
      gateway.addBackend({id: 'b', host: '127.0.0.1', port: backend.port, generation: 1})
      gateway.setReady('b')
      const client = await resources.client(port)
      const result = outcome(client)
      client.write('trigger')
      expect((await result).error).to.equal('ECONNRESET')
      expect(await nextEvent(gateway, events, 'connection-closed')).to.include({reason: 'backend-reset'})
    })

    it('propagates a client reset to the backend as ECONNRESET', async () => {
      const {gateway, port, events} = await resources.gateway()
      let backendOutcome!: ReturnType<typeof outcome>
      let received!: () => void
      const gotData = new Promise<void>((resolve) => {
        received = resolve
      })
      const backend = await resources.server((socket) => {
        backendOutcome = outcome(socket)
        socket.once('data', () => received())
      })
      gateway.addBackend({id: 'b', host: '127.0.0.1', port: backend.port, generation: 1})
      gateway.setReady('b')
      const client = await resources.client(port)
      client.on('error', () => {})
      client.write('hello')
      await gotData
      client.resetAndDestroy()
      expect((await backendOutcome).error).to.equal('ECONNRESET')
      expect(await nextEvent(gateway, events, 'connection-closed')).to.include({reason: 'client-reset'})
    })

    it('carries 64 MiB of random data each way at once, byte-identical', async function () {
      this.timeout(30_000)
      const payload = randomBytes(64 * MiB)
      const expected = createHash('sha256').update(payload).digest('hex')
      const {gateway, port, events} = await resources.gateway()
      let serverDigest!: Promise<string>
      const backend = await resources.server((socket) => {
        serverDigest = digestUntilEnd(socket)
        socket.end(payload)
      })
      gateway.addBackend({id: 'b', host: '127.0.0.1', port: backend.port, generation: 1})
      gateway.setReady('b')
      const client = await resources.client(port, {allowHalfOpen: true})
      const clientDigest = digestUntilEnd(client)
      client.end(payload)
      expect(await clientDigest).to.equal(expected)
      expect(await serverDigest).to.equal(expected)
      const closed = await nextEvent(gateway, events, 'connection-closed')
      expect(closed).to.include({bytesIn: 64 * MiB, bytesOut: 64 * MiB, reason: 'closed'})
      expect(gateway.backends()[0]).to.include({bytesIn: 64 * MiB, bytesOut: 64 * MiB, active: 0, total: 1})
    })

    for (const direction of ['client -> backend', 'backend -> client'] as const) {
      it(`keeps its buffers bounded when a fast writer feeds a slow reader (${direction})`, async function () {
        this.timeout(30_000)
        const total = 256 * MiB
        const chunk = Buffer.alloc(MiB, 7)
        const {gateway, port} = await resources.gateway()
        let accepted!: (socket: Socket) => void
        const serverSide = new Promise<Socket>((resolve) => {
          accepted = resolve
        })
        const backend = await resources.server((socket) => accepted(socket))
        gateway.addBackend({id: 'b', host: '127.0.0.1', port: backend.port, generation: 1})
        gateway.setReady('b')
        const client = await resources.client(port)
        const serverSocket = await serverSide
        const [writer, reader] = direction === 'client -> backend' ? [client, serverSocket] : [serverSocket, client]

        // The reader takes 1 MiB, then stops reading.
        let read = 0
        let resumeReading!: () => void
        const allRead = new Promise<void>((resolve) => {
          reader.on('data', (data) => {
            read += data.length
            if (read >= MiB && resumeReading === undefined) {
              reader.pause()
              resumeReading = () => reader.resume()
            }

            if (read === total) resolve()
          })
        })
        // The writer hands everything over at once (the same buffer 256 times: no memory cost here).
        let refused = false
        for (let written = 0; written < total; written += chunk.length) refused = !writer.write(chunk) || refused
        expect(refused, 'write() returned false').to.equal(true)

        const forwarded = () =>
          direction === 'client -> backend' ? gateway.backends()[0].bytesIn : gateway.backends()[0].bytesOut
        let maxBuffered = 0
        // No event says "nothing moves any more": poll until the forwarded count stops moving.
        await waitUntilStable(forwarded, () => {
          maxBuffered = Math.max(maxBuffered, gateway.bufferedBytes())
        })
        expect(forwarded()).to.be.below(total / 2)
        expect(maxBuffered).to.be.below(4 * MiB)

        resumeReading()
        await allRead
        expect(read).to.equal(total)
      })
    }

    it('reports a port in use as a GatewayError naming the port, and no flag (the command layer names those)', async () => {
      const blocker = createServer()
      blocker.listen({host: '127.0.0.1', port: 0})
      await once(blocker, 'listening')
      const {port} = blocker.address() as {port: number}
      try {
        const error = await resources.gateway({port}).then(
          () => null,
          (error_: unknown) => error_,
        )
        expect(error).to.be.instanceOf(GatewayError)
        const {code, host, port: failedPort, systemCode, message} = error as GatewayError
        expect({code, host, port: failedPort, systemCode, message}).to.deep.equal({
          code: 'EADDRINUSE',
          host: '127.0.0.1',
          port,
          systemCode: 'EADDRINUSE',
          message: `Port ${port} on 127.0.0.1 is already in use.`,
        })
      } finally {
        blocker.close()
      }
    })

    it('emits listening with the real port and stops accepting on close() while connections keep flowing', async () => {
      const {gateway, port, events} = await resources.gateway()
      expect(events[0]).to.deep.equal({type: 'listening', host: '127.0.0.1', port})
      const {port: backendPort} = await resources.idServer('b')
      gateway.addBackend({id: 'b', host: '127.0.0.1', port: backendPort, generation: 1})
      gateway.setReady('b')
      const client = new LineClient(await resources.client(port))
      expect(await client.request('one')).to.equal('b')
      await gateway.close()
      expect(await client.request('two')).to.equal('b')
      const refused = await outcome(resources.rawClient(port))
      expect(refused.error).to.equal('ECONNREFUSED')
    })
  })
}

function digestUntilEnd(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    socket.on('data', (data) => hash.update(data))
    socket.on('end', () => resolve(hash.digest('hex')))
    socket.on('error', reject)
  })
}

/** Polls `value` every 10 ms until it has not changed for 200 ms; calls `sample` at each poll. */
async function waitUntilStable(value: () => number, sample: () => void, deadlineMs = 15_000): Promise<void> {
  const deadline = Date.now() + deadlineMs
  let last = -1
  let stableSince = Date.now()
  for (;;) {
    sample()
    const current = value()
    if (current !== last) {
      last = current
      stableSince = Date.now()
    } else if (Date.now() - stableSince >= 200) {
      return
    }

    if (Date.now() > deadline) throw new Error('the transfer never settled')
    await new Promise((resolve) => {
      setTimeout(resolve, 10)
    })
  }
}
