import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {once} from 'node:events'
import {connect, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {
  CALLBACK_NAMES,
  DEFAULT_ADDON_PATH,
  loadAddon,
  nativeStats,
  nativeTransport,
} from '../../../src/lib/gateway/native-transport.js'
import {type Endpoint, type EndpointHandler, type Listener, type Transport} from '../../../src/lib/gateway/transport.js'
import {outcome, Resources} from './fixtures.js'

/**
 * The smallest Connection: each accepted client is connected to `backendPort` and piped to it; a FIN is
 * passed on, a reset too. Records every endpoint so the test can read its bytesRead once closed, and what
 * each handler heard (`log`).
 */
class PipedRelay {
  readonly pairs: Array<{client: Endpoint; upstream: Endpoint; closed: Promise<void>; log: string[]}> = []
  listener: Listener | null = null

  constructor(
    private readonly transport: Transport,
    private readonly backendPort: number,
  ) {}

  async listen(): Promise<number> {
    this.listener = await this.transport.listen({
      host: '127.0.0.1',
      port: 0,
      backlog: 511,
      onAccept: (client) => this.accept(client),
      onAcceptError() {},
    })
    return this.listener.port
  }

  private accept(client: Endpoint): void {
    // eslint-disable-next-line prefer-const -- assigned once, below the handler whose callbacks read it
    let upstream!: Endpoint
    let settle!: () => void
    const closed = new Promise<void>((resolve) => {
      settle = resolve
    })
    const done = () => {
      if (client.closed && upstream.closed) settle()
    }

    const log: string[] = []
    const otherOf = (endpoint: Endpoint) => (endpoint === client ? upstream : client)
    const nameOf = (endpoint: Endpoint) => (endpoint === client ? 'client' : 'upstream')
    const handler: EndpointHandler = {
      onData: () => true,
      onDrain() {},
      onEnd(from) {
        log.push(`end ${nameOf(from)}`)
        otherOf(from).end()
      },
      onClose(endpoint, error) {
        log.push(`close ${nameOf(endpoint)} ${error} (other ${otherOf(endpoint).closed ? 'closed' : 'open'})`)
        if (error === null) otherOf(endpoint).end()
        else otherOf(endpoint).reset()
        done()
      },
      onConnect: () => client.pipe!(upstream),
      onConnectFailed() {
        client.reset()
        done()
      },
    }
    client.handler = handler
    upstream = this.transport.connect('127.0.0.1', this.backendPort, handler)
    this.pairs.push({client, upstream, closed, log})
  }

  close(): void {
    this.listener?.close()
    for (const {client, upstream} of this.pairs) {
      client.close()
      upstream.close()
    }
  }
}

const native = nativeTransport()
const execFileAsync = promisify(execFile)

describe('native transport', () => {
  it('is unavailable, not an error, when its addon is missing', () => {
    const missing = join(tmpdir(), 'scalingo-tcp-no-such-dir', 'relay.node')
    expect(loadAddon(missing)).to.equal(null)
    expect(nativeTransport(missing)).to.equal(null)
    expect(nativeStats(missing)).to.equal(null)
  })

  describe('with its addon', function () {
    const resources = new Resources()
    let relay: PipedRelay | null = null

    before(function () {
      if (native === null) this.skip()
    })

    afterEach(async () => {
      relay?.close()
      relay = null
      await resources.cleanup()
    })

    it('counts the bytes each side read, exactly, and still knows them once closed', async () => {
      const fromClient = randomBytes(3 * 1024 * 1024 + 17)
      const fromBackend = randomBytes(1024 * 1024 + 5)
      const backend = await resources.server((socket) => {
        let received = 0
        socket.on('data', (chunk) => {
          received += chunk.length
        })
        socket.on('end', () => {
          expect(received).to.equal(fromClient.length)
          socket.end(fromBackend)
        })
      })
      relay = new PipedRelay(native!, backend.port)
      const port = await relay.listen()
      const client = await resources.client(port, {allowHalfOpen: true})
      let received = 0
      client.on('data', (chunk) => {
        received += chunk.length
      })
      client.end(fromClient)
      await once(client, 'end')
      client.end()
      await relay.pairs[0].closed
      const {client: clientSide, upstream} = relay.pairs[0]
      expect(received).to.equal(fromBackend.length)
      expect(clientSide.closed && upstream.closed).to.equal(true)
      expect(clientSide.bytesRead).to.equal(fromClient.length)
      expect(upstream.bytesRead).to.equal(fromBackend.length)
      expect(clientSide.idleMs!()).to.be.at.least(0)
    })

    it('ends a piped pair by itself once both sides sent their FIN: no onEnd, one onClose(null) per side, both closed by then', async () => {
      // The backend answers after the client's FIN, then ends: the FINs cross the relay in both orders' worth of steps.
      const backend = await resources.server((socket) => {
        let received = ''
        socket.on('data', (chunk) => {
          received += chunk
        })
        socket.on('end', () => socket.end(`got:${received}`))
      })
      relay = new PipedRelay(native!, backend.port)
      const port = await relay.listen()
      const client = await resources.client(port, {allowHalfOpen: true})
      const result = outcome(client)
      client.end('hello')
      expect(await result).to.include({ended: true, data: 'got:hello', error: undefined})
      await relay.pairs[0].closed
      expect([...relay.pairs[0].log].sort()).to.deep.equal([
        'close client null (other closed)',
        'close upstream null (other closed)',
      ])
      expect(relay.pairs[0].upstream.bytesRead).to.equal('got:hello'.length)
    })

    it('passes on a FIN the client sent before its backend was even connected', async () => {
      let backendSawEnd!: (received: string) => void
      const backendReceived = new Promise<string>((resolve) => {
        backendSawEnd = resolve
      })
      const backend = await resources.server((socket) => {
        let received = ''
        socket.on('data', (chunk) => {
          received += chunk
        })
        socket.on('end', () => {
          backendSawEnd(received)
          socket.end('bye')
        })
      })
      relay = new PipedRelay(native!, backend.port)
      const port = await relay.listen()
      const client = await resources.client(port, {allowHalfOpen: true})
      const result = outcome(client)
      client.end()
      expect(await backendReceived).to.equal('')
      expect(await result).to.include({ended: true, data: 'bye', error: undefined})
      await relay.pairs[0].closed
      expect([...relay.pairs[0].log].sort()).to.deep.equal([
        'close client null (other closed)',
        'close upstream null (other closed)',
      ])
    })

    it("leaves Node's event loop as it found it: eventLoopUtilization() still measures idle time once the addon is set up", async () => {
      // A fresh process loads and sets up the addon, idles 50 ms on a timer, and prints the idle time
      // eventLoopUtilization() measured (0 when the loop's idle-time metric was switched off).
      const script = `
        const addon = require(${JSON.stringify(DEFAULT_ADDON_PATH)})
        const noop = () => {}
        addon.setup(Object.fromEntries(${JSON.stringify(CALLBACK_NAMES)}.map(name => [name, noop])))
        const {performance} = require('node:perf_hooks')
        const start = performance.eventLoopUtilization()
        setTimeout(() => console.log(performance.eventLoopUtilization(start).idle), 50)`
      const {stdout} = await execFileAsync(process.execPath, ['-e', script])
      expect(Number(stdout.trim())).to.be.above(20)
    })

    it('holds what a backend sends first, unread, until the endpoint is asked to read', async () => {
      let written!: () => void
      const greetingWritten = new Promise<void>((resolve) => {
        written = resolve
      })
      const backend = await resources.server((socket) => {
        socket.write('hello\n', () => written())
      })
      const events: string[] = []
      let connected!: () => void
      const isConnected = new Promise<void>((resolve) => {
        connected = resolve
      })
      let gotData!: () => void
      const dataArrived = new Promise<void>((resolve) => {
        gotData = resolve
      })
      const handler: EndpointHandler = {
        onData(_endpoint, buffer, length) {
          events.push(`data ${buffer.subarray(0, length).toString()}`)
          gotData()
          return true
        },
        onDrain() {},
        onEnd: () => events.push('end'),
        onClose: (_endpoint, error) => events.push(`close ${error}`),
        onConnect() {
          events.push('connect')
          connected()
        },
        onConnectFailed: (_endpoint, error) => events.push(`connect failed ${error}`),
      }
      const upstream = native!.connect('127.0.0.1', backend.port, handler)
      try {
        await Promise.all([isConnected, greetingWritten])
        // Two poll phases: a read the endpoint was not asked for would have been delivered by now.
        for (let turn = 0; turn < 2; turn++) {
          await new Promise((resolve) => {
            setImmediate(resolve)
          })
        }

        expect(events).to.deep.equal(['connect'])
        upstream.readStart()
        await dataArrived
        expect(events).to.deep.equal(['connect', 'data hello\n'])
        expect(upstream.bytesRead).to.equal(6)
      } finally {
        upstream.close()
      }
    })

    it('passes a backend reset to the client as ECONNRESET while bytes are in flight', async () => {
      const backend = await resources.server((socket) => {
        // Read a little, then reset while the relay still holds a write for this socket (back-pressure).
        socket.once('data', () => {
          socket.pause()
          setImmediate(() => socket.resetAndDestroy())
        })
      })
      relay = new PipedRelay(native!, backend.port)
      const port = await relay.listen()
      const client = await resources.client(port)
      const result = outcome(client)
      const chunk = randomBytes(1024 * 1024)
      const pump = () => {
        while (!client.destroyed && client.write(chunk));
      }

      client.on('drain', pump)
      pump()
      expect((await result).error).to.equal('ECONNRESET')
      await relay.pairs[0].closed
    })

    it('leaves no socket open and no memory held after 2,000 piped connections', async function () {
      this.timeout(60_000)
      const backend = await resources.echoServer()
      relay = new PipedRelay(native!, backend.port)
      const port = await relay.listen()
      const baseline = nativeStats()!
      const activeBefore = activeHandles()
      const batch = 100
      for (let done = 0; done < 2000; done += batch) {
        await Promise.all(Array.from({length: batch}, (_, index) => echoOnce(port, `${done + index}`)))
      }

      await Promise.all(relay.pairs.map((pair) => pair.closed))
      expect(relay.pairs).to.have.length(2000)
      for (const {client} of relay.pairs) expect(client.bytesRead).to.be.above(0)
      // Close callbacks run on the loop turn after uv_close: wait for them (no event tells, so poll).
      const deadline = Date.now() + 5000
      while (nativeStats()!.handles > baseline.handles && Date.now() < deadline) {
        await new Promise((resolve) => {
          setImmediate(resolve)
        })
      }

      expect(nativeStats()!.handles).to.equal(baseline.handles)
      expect(activeHandles()).to.be.at.most(activeBefore)
      // A side's struct goes with its socket (JavaScript holds only its id): no garbage collection needed.
      expect(nativeStats()!.sides).to.equal(baseline.sides)
    })
  })
})

function activeHandles(): number {
  return (process as unknown as {_getActiveHandles(): unknown[]})._getActiveHandles().length
}

/** One connection: sends a line, waits for its echo, ends, waits for the close. */
async function echoOnce(port: number, text: string): Promise<void> {
  const socket: Socket = connect({host: '127.0.0.1', port})
  await once(socket, 'connect')
  socket.write(`${text}\n`)
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    received += chunk
    if (received.endsWith('\n')) socket.end()
  })
  await once(socket, 'close')
  expect(received).to.equal(`${text}\n`)
}
