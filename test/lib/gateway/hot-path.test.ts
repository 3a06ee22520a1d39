import {expect} from 'chai'
import {createHash, randomBytes} from 'node:crypto'
import {once} from 'node:events'

import {requireTransport, TRANSPORTS} from '../../support/transports.js'
import {LineClient, Resources} from './fixtures.js'

// The data path's optimisations must not change what the gateway does: no connection events when they
// are switched off (but the same accounting), and byte-identical data when the backend side's read
// buffer is reused while the client's writes are still pending.
for (const io of TRANSPORTS) {
  describe(`Gateway: hot path (${io})`, () => {
    requireTransport(io)
    const resources = new Resources(io)
    afterEach(() => resources.cleanup())

    it('with connectionEvents off, emits no connection events but still counts connections and bytes', async () => {
      const {gateway, port, events} = await resources.gateway({connectionEvents: false})
      const {port: backendPort} = await resources.idServer('a')
      gateway.addBackend({id: 'a', host: '127.0.0.1', port: backendPort, generation: 1})
      gateway.setReady('a')

      const client = new LineClient(await resources.client(port))
      expect(await client.request('hello')).to.equal('a')
      client.socket.end()
      await once(client.socket, 'close')
      while (gateway.connections.active > 0) await new Promise((resolve) => setImmediate(resolve))

      expect(events.map((event) => event.type)).to.not.include.members(['connection-opened', 'connection-closed'])
      expect(gateway.connections).to.deep.equal({active: 0, total: 1})
      const [backend] = gateway.backends()
      expect(backend.bytesIn).to.equal('hello\n'.length)
      expect(backend.bytesOut).to.equal('a\n'.length)
    })

    it('delivers many backend writes of every size to a slow reader byte-identical', async function () {
      this.timeout(15_000)
      const chunks = Array.from({length: 400}, (_, i) => randomBytes(1 + ((i * 7919) % 70_000)))
      const expected = createHash('sha256')
      for (const chunk of chunks) expected.update(chunk)
      const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0)

      const {gateway, port} = await resources.gateway()
      const {port: backendPort} = await resources.server((socket) => {
        for (const chunk of chunks) socket.write(chunk)
        socket.end()
      })
      gateway.addBackend({id: 'a', host: '127.0.0.1', port: backendPort, generation: 1})
      gateway.setReady('a')

      const client = await resources.client(port)
      const received = createHash('sha256')
      let bytes = 0
      client.on('data', (chunk: Buffer) => {
        received.update(chunk)
        bytes += chunk.length
        // Read in bursts so the gateway's writes to the client queue up and complete asynchronously.
        client.pause()
        setTimeout(() => client.resume(), 1)
      })
      await once(client, 'end')
      expect(bytes).to.equal(total)
      expect(received.digest('hex')).to.equal(expected.digest('hex'))
    })
  })
}
