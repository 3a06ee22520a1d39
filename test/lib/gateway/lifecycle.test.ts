import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {lookup} from 'node:dns/promises'
import {EventEmitter} from 'node:events'

import {Balancer} from '../../../src/lib/gateway/balancer.js'
import {ConnectionTable} from '../../../src/lib/gateway/connection-table.js'
import {nativeTransport} from '../../../src/lib/gateway/native-transport.js'
import {streamTransport} from '../../../src/lib/gateway/stream-transport.js'
import type {Transport} from '../../../src/lib/gateway/transport.js'
import {GATEWAY_DEFAULTS, type GatewayEvent, type GatewayEvents} from '../../../src/lib/gateway/types.js'

import {requireTransport, TRANSPORTS} from '../../support/transports.js'
import {LineClient, nextEvent, outcome, Resources} from './fixtures.js'

const KiB = 1024

for (const io of TRANSPORTS) {
  describe(`Gateway: queueing, rotation changes and drop modes (${io})`, () => {
    requireTransport(io)
    const resources = new Resources(io)
    afterEach(() => resources.cleanup())

    it('queues a client while no backend is ready and forwards what it sent once one is', async () => {
      const {gateway, port, events} = await resources.gateway()
      const payload = randomBytes(512 * KiB)
      const client = await resources.client(port)
      const chunks: Buffer[] = []
      let received = 0
      const echoed = new Promise<void>((resolve) => {
        client.on('data', (data: Buffer) => {
          chunks.push(data)
          received += data.length
          if (received === payload.length) resolve()
        })
      })
      client.write(payload)
      expect(await nextEvent(gateway, events, 'client-queued')).to.deep.equal({type: 'client-queued', waiting: 1})
      expect(gateway.waiting).to.equal(1)
      // The backend appears only now, boots, then becomes ready.
      const {port: backendPort} = await resources.echoServer()
      gateway.addBackend({id: 'late', host: '127.0.0.1', port: backendPort, generation: 1})
      gateway.setReady('late')
      await echoed
      expect(Buffer.concat(chunks).equals(payload)).to.equal(true)
      expect(gateway.waiting).to.equal(0)
    })

    it('does not send connections to a booting backend', async () => {
      const {gateway, port, events} = await resources.gateway()
      const {port: backendPort} = await resources.idServer('booting')
      gateway.addBackend({id: 'booting', host: '127.0.0.1', port: backendPort, generation: 1})
      const client = new LineClient(await resources.client(port))
      const reply = client.request('hi')
      await nextEvent(gateway, events, 'client-queued')
      expect(gateway.backends()[0]).to.include({state: 'booting', active: 0})
      gateway.setReady('booting')
      expect(await reply).to.equal('booting')
    })

    it('serves elsewhere a client still connecting to a backend that is dropped, instead of resetting it', async () => {
      const {gateway, port, events} = await resources.gateway()
      const {port: dyingPort} = await resources.idServer('dying')
      const {port: otherPort} = await resources.idServer('other')
      gateway.addBackend({id: 'dying', host: '127.0.0.1', port: dyingPort, generation: 1})
      gateway.addBackend({id: 'other', host: '127.0.0.1', port: otherPort, generation: 1})
      const client = new LineClient(await resources.client(port))
      const reply = client.request('hi')
      await nextEvent(gateway, events, 'client-queued')
      // In one tick, as when an instance crashes: the queued client starts connecting to `dying`, which
      // then goes down and has its connections dropped before that connect could complete.
      gateway.setReady('dying')
      gateway.markDown('dying')
      expect(gateway.dropConnections('dying', 'reset')).to.equal(0)
      gateway.setReady('other')
      expect(await reply).to.equal('other')
    })

    it('puts such a client back in the queue when no other backend is ready', async () => {
      const {gateway, port, events} = await resources.gateway()
      const {port: dyingPort} = await resources.idServer('dying')
      const {port: laterPort} = await resources.idServer('later')
      gateway.addBackend({id: 'dying', host: '127.0.0.1', port: dyingPort, generation: 1})
      const client = new LineClient(await resources.client(port))
      const reply = client.request('hi')
      await nextEvent(gateway, events, 'client-queued')
      gateway.setReady('dying')
      gateway.markDown('dying')
      gateway.dropConnections('dying', 'reset')
      expect(gateway.waiting).to.equal(1)
      gateway.addBackend({id: 'later', host: '127.0.0.1', port: laterPort, generation: 1})
      gateway.setReady('later')
      expect(await reply).to.equal('later')
    })

    it('resets a queued client after the queue timeout', async () => {
      const {gateway, port, events} = await resources.gateway({queueTimeoutMs: 150})
      const startedAt = Date.now()
      const result = await outcome(resources.rawClient(port))
      expect(result.error).to.equal('ECONNRESET')
      expect(result.at - startedAt).to.be.at.least(140)
      expect(await nextEvent(gateway, events, 'client-rejected')).to.deep.equal({
        type: 'client-rejected',
        reason: 'no backend became ready within 150 ms',
        cause: 'no-ready-backend',
        waitedMs: 150,
      })
      expect(gateway.connections).to.deep.equal({active: 0, total: 1})
      expect(gateway.waiting).to.equal(0)
    })

    it('drain() keeps existing connections flowing but sends new ones elsewhere', async () => {
      const {gateway, port} = await twoBackends()
      const old = new LineClient(await resources.client(port))
      expect(await old.request('x')).to.equal('a')
      gateway.drain('a')
      for (let index = 0; index < 3; index++) {
        expect(await new LineClient(await resources.client(port)).request('x')).to.equal('b')
      }

      expect(await old.request('still there?')).to.equal('a')
      expect(gateway.backends().map((info) => [info.id, info.state, info.active])).to.deep.equal([
        ['a', 'draining', 1],
        ['b', 'ready', 3],
      ])
    })

    it('markDown() takes a backend out of rotation at once', async () => {
      const {gateway, port} = await twoBackends()
      gateway.markDown('a')
      for (let index = 0; index < 3; index++) {
        expect(await new LineClient(await resources.client(port)).request('x')).to.equal('b')
      }

      expect(gateway.backends()[0]).to.include({id: 'a', state: 'down', total: 0})
      gateway.removeBackend('a')
      expect(gateway.backends().map((info) => info.id)).to.deep.equal(['b'])
    })

    it('drop "reset": the client sees ECONNRESET, the backend side is closed', async () => {
      const {gateway, port, events, backendClosed} = await oneConnectionOn('a')
      const client = new LineClient(await resources.client(port))
      expect(await client.request('x')).to.equal('a')
      const result = outcome(client.socket)
      expect(gateway.dropConnections('a', 'reset')).to.equal(1)
      expect((await result).error).to.equal('ECONNRESET')
      await backendClosed
      expect(await nextEvent(gateway, events, 'connection-closed')).to.include({backend: 'a', reason: 'dropped'})
      expect(gateway.backends()[0].active).to.equal(0)
    })

    it('drop "close": the client sees a clean end of stream', async () => {
      const {gateway, port, events, backendClosed} = await oneConnectionOn('a')
      const client = new LineClient(await resources.client(port))
      expect(await client.request('x')).to.equal('a')
      const result = outcome(client.socket)
      expect(gateway.dropConnections('a', 'close')).to.equal(1)
      const {ended, error} = await result
      expect({ended, error}).to.deep.equal({ended: true, error: undefined})
      await backendClosed
      expect(await nextEvent(gateway, events, 'connection-closed')).to.include({reason: 'dropped'})
    })

    it('drop "blackhole": the client gets nothing at all until the blackhole timeout, then a reset', async () => {
      const {gateway, port, events, backendClosed} = await oneConnectionOn('a', {blackholeTimeoutMs: 400})
      const client = new LineClient(await resources.client(port))
      expect(await client.request('x')).to.equal('a')
      const seen: string[] = []
      client.socket.on('data', () => seen.push('data'))
      client.socket.on('end', () => seen.push('end'))
      const result = outcome(client.socket)
      const droppedAt = Date.now()
      expect(gateway.dropConnections('a', 'blackhole')).to.equal(1)
      await backendClosed
      // The client keeps talking into the void: nothing comes back, not even an error.
      client.socket.write('anyone there?\n')
      const {error, at} = await result
      expect(seen).to.deep.equal([])
      expect(error).to.equal('ECONNRESET')
      expect(at - droppedAt).to.be.at.least(390)
      expect(await nextEvent(gateway, events, 'connection-closed')).to.include({reason: 'dropped'})
      expect(gateway.connections.active).to.equal(0)
    })

    it('dropConnections() only touches the given backend', async () => {
      const {gateway, port} = await twoBackends()
      const onA = new LineClient(await resources.client(port))
      const onB = new LineClient(await resources.client(port))
      expect([await onA.request('x'), await onB.request('x')]).to.deep.equal(['a', 'b'])
      const result = outcome(onA.socket)
      expect(gateway.dropConnections('a', 'reset')).to.equal(1)
      expect((await result).error).to.equal('ECONNRESET')
      expect(await onB.request('y')).to.equal('b')
      expect(gateway.dropConnections('unknown', 'reset')).to.equal(0)
    })

    it('destroy() stops accepting and ends every connection', async () => {
      const {gateway, port} = await twoBackends()
      const client = new LineClient(await resources.client(port))
      expect(await client.request('x')).to.equal('a')
      const result = outcome(client.socket)
      gateway.destroy()
      await result
      expect(gateway.connections.active).to.equal(0)
      expect((await outcome(resources.rawClient(port))).error).to.equal('ECONNREFUSED')
    })

    it('reports accept errors once per burst and keeps serving', async () => {
      // What the listener and the data path report when accept() or socket() fails with EMFILE (a real
      // descriptor limit is exercised by test/reliability/resources.test.ts): told to the connection table
      // the way a Connection (exhausted) and the listener (acceptFailed) tell it.
      const transport = io === 'native' ? nativeTransport()! : streamTransport
      const emitter = new EventEmitter<GatewayEvents>()
      const events: GatewayEvent[] = []
      emitter.on('event', (event: GatewayEvent) => events.push(event))
      const balancer = new Balancer('round-robin')
      const table = new ConnectionTable({...GATEWAY_DEFAULTS, transport}, balancer, emitter)
      const listener = await transport.listen({
        host: '127.0.0.1',
        port: 0,
        backlog: 16,
        onAccept: (client) => table.accept(client),
        onAcceptError: (code) => table.acceptFailed(code),
      })
      try {
        const {port: backendPort} = await resources.idServer('a')
        balancer.add({id: 'a', host: '127.0.0.1', port: backendPort, generation: 1})
        balancer.setState('a', 'ready')
        table.exhausted('EMFILE')
        table.acceptFailed('EMFILE')
        expect(events.filter((event) => event.type === 'accept-error')).to.deep.equal([
          {type: 'accept-error', error: 'EMFILE'},
        ])
        expect(await new LineClient(await resources.client(listener.port)).request('x')).to.equal('a')
        table.exhausted('EMFILE')
        expect(events.filter((event) => event.type === 'accept-error')).to.have.length(2)
      } finally {
        listener.close()
        table.destroy()
      }
    })

    it('connectsSettled resolves only once the connections handed to a backend are through their connect', async () => {
      // The transport holds back each backend's "connected" until the test releases it: a connect in flight.
      const base = io === 'native' ? nativeTransport()! : streamTransport
      const held: Array<() => void> = []
      let heldOne!: () => void
      const connectHeld = new Promise<void>((resolve) => (heldOne = resolve))
      const transport: Transport = Object.create(base)
      transport.connect = (host, port, handler) =>
        base.connect(host, port, {
          onData: (...args) => handler.onData(...args),
          onEnd: (endpoint) => handler.onEnd(endpoint),
          onDrain: (endpoint) => handler.onDrain(endpoint),
          onClose: (endpoint, error) => handler.onClose(endpoint, error),
          onConnectFailed: (endpoint, error) => handler.onConnectFailed(endpoint, error),
          onConnect: (endpoint) => (held.push(() => handler.onConnect(endpoint)), heldOne()),
        })
      const balancer = new Balancer('round-robin')
      const table = new ConnectionTable({...GATEWAY_DEFAULTS, transport}, balancer, new EventEmitter<GatewayEvents>())
      const listener = await transport.listen({
        host: '127.0.0.1',
        port: 0,
        backlog: 16,
        onAccept: (client) => table.accept(client),
        onAcceptError: () => {},
      })
      try {
        const {port: backendPort} = await resources.idServer('a')
        balancer.add({id: 'a', host: '127.0.0.1', port: backendPort, generation: 1})
        balancer.setState('a', 'ready')
        const backend = balancer.get('a')!
        await table.connectsSettled(backend) // nothing connecting: at once
        const client = new LineClient(await resources.client(listener.port))
        await connectHeld
        let settled = false
        const settling = table.connectsSettled(backend).then(() => (settled = true))
        await new Promise((resolve) => setImmediate(resolve))
        expect(settled, 'settled while a connect is in flight').to.equal(false)
        for (const release of held) release()
        await settling
        expect(await client.request('x')).to.equal('a')
      } finally {
        listener.close()
        table.destroy()
      }
    })

    async function twoBackends() {
      const context = await resources.gateway()
      for (const id of ['a', 'b']) {
        const {port} = await resources.idServer(id)
        context.gateway.addBackend({id, host: '127.0.0.1', port, generation: 1})
        context.gateway.setReady(id)
      }

      return context
    }

    /** A gateway with one line backend; backendClosed resolves when the backend sees its connection close. */
    async function oneConnectionOn(id: string, options: {blackholeTimeoutMs?: number} = {}) {
      const context = await resources.gateway(options)
      let closed!: () => void
      const backendClosed = new Promise<void>((resolve) => {
        closed = resolve
      })
      const {port} = await resources.server((socket) => {
        socket.on('data', () => socket.write(`${id}\n`))
        socket.on('end', () => socket.end())
        socket.on('close', () => closed())
      })
      context.gateway.addBackend({id, host: '127.0.0.1', port, generation: 1})
      context.gateway.setReady(id)
      return {...context, backendClosed}
    }
  })
}

for (const io of TRANSPORTS) {
  describe(`Gateway: hostnames (${io})`, () => {
    requireTransport(io)
    const resources = new Resources(io)
    afterEach(() => resources.cleanup())

    it('connects to a backend given by host name', async () => {
      const {gateway, port} = await resources.gateway()
      // Listen where the name resolves first (127.0.0.1 or ::1, depending on the machine).
      const {address} = await lookup('localhost')
      const {port: backendPort} = await resources.idServer('named', address)
      gateway.addBackend({id: 'named', host: 'localhost', port: backendPort, generation: 1})
      gateway.setReady('named')
      expect(await new LineClient(await resources.client(port)).request('x')).to.equal('named')
    })
  })
}
