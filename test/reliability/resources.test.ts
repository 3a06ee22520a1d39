import {expect} from 'chai'
import {once} from 'node:events'
import {connect, type Socket} from 'node:net'

import {Gateway} from '../../src/lib/gateway/gateway.js'
import type {GatewayEvent} from '../../src/lib/gateway/types.js'
import {pollUntil} from '../support/processes.js'
import {emptyAppRoot} from '../support/proxy.js'
import {report} from '../support/reliability.js'
import {closeSocket, echoAgain, echoOnce, type Outcome, pool, Tracker} from '../support/sockets.js'

const MiB = 1024 * 1024

describe('reliability: resources', function () {
  this.timeout(60_000)
  const tracker = new Tracker()
  const gateways: Gateway[] = []
  afterEach(async () => {
    for (const gateway of gateways) gateway.destroy()
    gateways.length = 0
    await tracker.cleanup()
  })

  async function gatewayTo(port: number): Promise<{gateway: Gateway; port: number; events: GatewayEvent[]}> {
    const gateway = new Gateway({host: '127.0.0.1', port: 0})
    gateways.push(gateway)
    const events: GatewayEvent[] = []
    gateway.on('event', (event: GatewayEvent) => events.push(event))
    const address = await gateway.listen()
    gateway.addBackend({id: 'b', host: '127.0.0.1', port, generation: 1})
    gateway.setReady('b')
    return {gateway, port: address.port, events}
  }

  /** A sender that writes as fast as its socket accepts (honouring write()'s back-pressure), up to `total` bytes. */
  function fastSender(socket: Socket, total: number, stats: {written: number}): void {
    const chunk = Buffer.alloc(64 * 1024, 'z')
    const pump = () => {
      while (stats.written < total) {
        stats.written += chunk.length
        if (!socket.write(chunk)) {
          socket.once('drain', pump)
          return
        }
      }

      socket.end()
    }

    pump()
  }

  /** Polls until the sender stops making progress: it is blocked on back-pressure (there is no event for that). */
  async function stalled(stats: Array<{written: number}>): Promise<void> {
    let last = -1
    let still = 0
    await pollUntil(
      () => {
        const now = stats.reduce((sum, s) => sum + s.written, 0)
        still = now === last ? still + 1 : 0
        last = now
        return still >= 8
      },
      () => `senders to stall (written ${last} bytes)`,
      15_000,
      25,
    )
  }

  for (const direction of ['server-to-client', 'client-to-server'] as const) {
    it(`bounds memory per connection when the ${direction === 'server-to-client' ? 'client' : 'server'} stops reading a fast stream (${direction})`, async () => {
      const CONNECTIONS = 10
      const TOTAL = 48 * MiB
      const senders: Array<{written: number}> = []
      const readers: Socket[] = []
      const {port: backendPort} = await tracker.server((socket) => {
        if (direction === 'server-to-client') {
          const stats = {written: 0}
          senders.push(stats)
          fastSender(socket, TOTAL, stats)
        } else {
          socket.pause()
          readers.push(socket)
        }
      })
      const {gateway, port} = await gatewayTo(backendPort)
      const clients: Socket[] = []
      for (let i = 0; i < CONNECTIONS; i++) {
        const client = tracker.socket(connect({host: '127.0.0.1', port}))
        client.on('error', () => {})
        await once(client, 'connect')
        if (direction === 'server-to-client') {
          client.pause()
          readers.push(client)
        } else {
          const stats = {written: 0}
          senders.push(stats)
          fastSender(client, TOTAL, stats)
        }

        clients.push(client)
      }

      await pollUntil(
        () => senders.length === CONNECTIONS,
        () => 'every sender to start',
      )
      await stalled(senders)
      const buffered = gateway.bufferedBytes()
      const maxWritten = Math.max(...senders.map((s) => s.written))
      report(`stalled reader (${direction})`, {
        connections: CONNECTIONS,
        gatewayBufferedKiB: Math.round(buffered / 1024),
        perConnectionKiB: Math.round(buffered / CONNECTIONS / 1024),
        maxSentBeforeStallMiB: Math.round(maxWritten / MiB),
      })
      // What the gateway holds per connection is a couple of socket high-water marks, not the stream.
      expect(buffered / CONNECTIONS).to.be.below(512 * 1024)
      // Back-pressure reached each sender: it stopped far short of the 48 MiB it wanted to send (what it
      // did send sits in kernel socket buffers on the way).
      expect(maxWritten).to.be.below(TOTAL / 2)

      // The reader resumes: every byte arrives, in full.
      const received = await Promise.all(
        readers.map(
          (reader) =>
            new Promise<number>((resolve) => {
              let bytes = 0
              reader.on('data', (chunk: Buffer) => {
                bytes += chunk.length
              })
              reader.on('end', () => resolve(bytes))
              reader.resume()
            }),
        ),
      )
      expect(received).to.deep.equal(Array.from({length: CONNECTIONS}, () => TOTAL))
    })
  }

  it('never crashes when it runs out of file descriptors: refuses, reports once per burst, recovers', async () => {
    const {port: echoPort} = await tracker.echoServer()
    const proxy = tracker.proxy(['--upstream', `127.0.0.1:${echoPort}`], {
      cwd: emptyAppRoot('scalingo-tcp-reliability-'),
      fdLimit: 256,
      keep: (e) => !e.event.startsWith('connection-'),
    })
    const port = await proxy.port()
    await proxy.waitFor((e) => e.event === 'upstream-ready')

    // Twice the clients the descriptors allow (two per proxied connection), all at once, all kept open.
    const burst: Outcome[] = await Promise.all(
      Array.from({length: 400}, (_, i) => echoOnce(port, `burst-${i}`, tracker)),
    )
    const served = burst.filter((outcome) => outcome.ok)
    const refused = burst.filter((outcome) => !outcome.ok) as Array<{ok: false; error: string}>
    expect(served.length).to.be.within(50, 127)
    expect(refused.length).to.equal(400 - served.length)
    expect(new Set(refused.map((outcome) => outcome.error))).to.satisfy((errors: Set<string>) =>
      [...errors].every((error) => ['closed', 'ECONNRESET', 'EPIPE'].includes(error)),
    )
    await proxy.waitForCount('accept-error', 1)
    expect(proxy.events.filter((e) => e.event === 'accept-error').map((e) => e.error)).to.satisfy((errors: string[]) =>
      errors.every((error) => error === 'EMFILE'),
    )
    expect(proxy.count('backend-connect-failed'), "EMFILE is not the backend's fault").to.equal(0)

    // The ones it served still work.
    await Promise.all(served.map((outcome, i) => echoAgain((outcome as {socket: Socket}).socket, `still-${i}`)))
    const burstReports = proxy.count('accept-error')
    expect(burstReports, 'one report for the whole burst').to.equal(1)

    // Descriptors free up: every new client is served again.
    await Promise.all(served.map((outcome) => closeSocket((outcome as {socket: Socket}).socket)))
    const after = await pool(100, 20, async (i) => {
      const outcome = await echoOnce(port, `after-${i}`)
      if (outcome.ok) await closeSocket(outcome.socket)
      return outcome.ok
    })
    expect(after.filter((ok) => !ok)).to.have.length(0)
    expect(proxy.alive).to.equal(true)
    // Then a second burst gets its own single report.
    const again = await Promise.all(Array.from({length: 300}, (_, i) => echoOnce(port, `again-${i}`, tracker)))
    expect(again.some((outcome) => !outcome.ok)).to.equal(true)
    await proxy.waitForCount('accept-error', burstReports + 1)
    report('fd exhaustion (ulimit -n 256)', {
      clients: 400,
      served: served.length,
      refused: refused.length,
      acceptErrorReports: burstReports,
      servedAfterRecovery: after.length,
      secondBurstReports: proxy.count('accept-error') - burstReports,
    })
    expect(proxy.count('accept-error')).to.equal(burstReports + 1)
    expect(proxy.alive).to.equal(true)
  })

  describe('--max-connections and --idle-timeout', () => {
    async function limitedProxy(args: string[]): Promise<{proxy: ReturnType<Tracker['proxy']>; port: number}> {
      const {port: echoPort} = await tracker.echoServer()
      const proxy = tracker.proxy(['--upstream', `127.0.0.1:${echoPort}`, ...args], {
        cwd: emptyAppRoot('scalingo-tcp-reliability-'),
      })
      const port = await proxy.port()
      await proxy.waitFor((e) => e.event === 'upstream-ready')
      return {proxy, port}
    }

    async function holdOpen(port: number, count: number): Promise<Socket[]> {
      const outcomes = await Promise.all(Array.from({length: count}, (_, i) => echoOnce(port, `held-${i}`, tracker)))
      expect(outcomes.filter((outcome) => !outcome.ok)).to.have.length(0)
      return outcomes.map((outcome) => (outcome as {socket: Socket}).socket)
    }

    it('refuses clients beyond the limit at once with --max-connections-mode refuse, and serves again when one closes', async () => {
      const {proxy, port} = await limitedProxy(['--max-connections', '10', '--max-connections-mode', 'refuse'])
      const held = await holdOpen(port, 10)
      const refused = await echoOnce(port, 'eleventh', tracker)
      expect(refused).to.deep.include({ok: false})
      const rejected = await proxy.waitFor((e) => e.event === 'client-rejected')
      expect(rejected.reason).to.match(/10 connections already open \(--max-connections\)/)
      await closeSocket(held[0])
      await proxy.waitForCount('connection-closed', 1)
      const served = await echoOnce(port, 'after-one-closed', tracker)
      expect(served.ok).to.equal(true)
    })

    it('makes clients beyond the limit wait for a free slot by default (queue), then serves them in order', async () => {
      const {proxy, port} = await limitedProxy(['--max-connections', '5'])
      const held = await holdOpen(port, 5)
      const waiting = [echoOnce(port, 'sixth', tracker), echoOnce(port, 'seventh', tracker)]
      await proxy.waitFor((e) => e.event === 'client-queued' && e.waiting === 2)
      for (const socket of held.slice(0, 2)) await closeSocket(socket)
      const outcomes = await Promise.all(waiting)
      expect(outcomes.map((outcome) => outcome.ok)).to.deep.equal([true, true])
      expect(proxy.count('client-rejected')).to.equal(0)
    })

    it('resets a client that waited for a slot longer than --queue-timeout', async () => {
      const {proxy, port} = await limitedProxy(['--max-connections', '1', '--queue-timeout', '300ms'])
      await holdOpen(port, 1)
      const started = Date.now()
      const outcome = await echoOnce(port, 'waits-too-long', tracker)
      expect(outcome).to.deep.include({ok: false})
      expect(Date.now() - started).to.be.within(250, 5000)
      const rejected = await proxy.waitFor((e) => e.event === 'client-rejected')
      expect(rejected.reason).to.equal('no connection slot freed up (--max-connections 1) within 300 ms')
    })

    it('closes idle connections after --idle-timeout and leaves active ones alone', async () => {
      const {proxy, port} = await limitedProxy(['--idle-timeout', '400ms'])
      const [idle, active] = await holdOpen(port, 2)
      const started = Date.now()
      const idleClosed = once(idle, 'close').then(() => Date.now() - started)
      // Meanwhile the active one talks every 100 ms, both ways, for well past the timeout.
      for (let i = 0; i < 10; i++) {
        await echoAgain(active, `tick-${i}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }

      // Closed once idle for the timeout, not before; how much later depends on the machine's load.
      expect(await idleClosed).to.be.within(300, 5000)
      expect(active.destroyed).to.equal(false)
      const closed = await proxy.waitFor((e) => e.event === 'connection-closed')
      expect(closed.reason).to.equal('idle-timeout')
      await once(active, 'close')
      await proxy.waitForCount('connection-closed', 2)
      expect(proxy.events.filter((e) => e.event === 'connection-closed').map((e) => e.reason)).to.deep.equal([
        'idle-timeout',
        'idle-timeout',
      ])
    })
  })
})
