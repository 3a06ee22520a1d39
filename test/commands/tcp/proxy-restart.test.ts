import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {unlinkSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'

import {type Event, ProxyProcess, SERVERS, makeApp} from '../../support/proxy.js'

const restartable = (options = '') => `node ${join(SERVERS, 'restartable-echo.mjs')} ${options}`.trim()

interface Exchange {
  /** The port in the greeting: which instance (hence generation) served it. */
  port: number
  sent: Buffer
  received: Buffer
  error?: string
}

/** One connection: read the greeting, send a random payload, wait for its echo, close. */
function echoOnce(gatewayPort: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const sent = randomBytes(1 + Math.floor(Math.random() * 16_384))
    const chunks: Buffer[] = []
    const socket = net.connect(gatewayPort, '127.0.0.1')
    let greeting: number | undefined
    let error: string | undefined
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      const all = Buffer.concat(chunks)
      const newline = all.indexOf(10)
      if (greeting === undefined && newline !== -1) {
        greeting = Number(all.subarray(0, newline).toString())
        socket.write(sent)
      }

      if (newline !== -1 && all.length - newline - 1 >= sent.length) socket.end()
    })
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message))
    socket.on('close', () => {
      const all = Buffer.concat(chunks)
      const newline = all.indexOf(10)
      resolve({
        port: greeting ?? -1,
        sent,
        received: newline === -1 ? Buffer.alloc(0) : all.subarray(newline + 1),
        error,
      })
    })
  })
}

/** Clients that keep opening connections and exchanging data on them until stopped. */
class LoadGenerator {
  readonly done: Exchange[] = []
  private running = true
  private readonly workers: Promise<void>[]

  constructor(gatewayPort: number, concurrency: number) {
    this.workers = Array.from({length: concurrency}, async () => {
      while (this.running) this.done.push(await echoOnce(gatewayPort))
    })
  }

  /** Resolves once `count` more exchanges have completed. */
  async after(count: number): Promise<void> {
    const target = this.done.length + count
    while (this.done.length < target) await new Promise((resolve) => setImmediate(resolve))
  }

  async stop(): Promise<Exchange[]> {
    this.running = false
    await Promise.all(this.workers)
    return this.done
  }
}

interface HeldSocket {
  socket: net.Socket
  data: string
  ended: boolean
  closed: boolean
  error?: string
  greeting: Promise<number>
  /** Resolves with what ended it: 'end' (FIN), an error code, or 'close'. */
  outcome: Promise<string>
}

function hold(gatewayPort: number): HeldSocket {
  const socket = net.connect(gatewayPort, '127.0.0.1')
  socket.setEncoding('utf8')
  let gotGreeting!: (port: number) => void
  let settle!: (outcome: string) => void
  const held: HeldSocket = {
    socket,
    data: '',
    ended: false,
    closed: false,
    greeting: new Promise((resolve) => (gotGreeting = resolve)),
    outcome: new Promise((resolve) => (settle = resolve)),
  }
  socket.on('data', (d: string) => {
    held.data += d
    if (held.data.includes('\n')) gotGreeting(Number(held.data.split('\n')[0]))
  })
  socket.on('end', () => {
    held.ended = true
    settle('end')
  })
  socket.on('error', (e: NodeJS.ErrnoException) => {
    held.error = e.code
    settle(e.code ?? 'error')
  })
  socket.on('close', () => {
    held.closed = true
    settle('close')
  })
  return held
}

/** Sends `text` on a held socket and resolves once it has come back. */
function roundTrip(held: HeldSocket, text: string): Promise<void> {
  const before = held.data.length
  held.socket.write(text)
  return new Promise((resolve, reject) => {
    const check = () => {
      if (held.data.slice(before).includes(text)) {
        held.socket.off('data', check)
        resolve()
      } else if (held.closed) reject(new Error(`socket closed before "${text}" came back`))
    }

    held.socket.on('data', check)
    check()
  })
}

const ms = (e: Event) => Date.parse(e.time)

describe('tcp:proxy rolling restarts', function () {
  this.timeout(30_000)
  const proxies: ProxyProcess[] = []
  const sockets: net.Socket[] = []
  const start = (args: string[], cwd: string) => {
    const proxy = ProxyProcess.start(args, {cwd})
    proxies.push(proxy)
    return proxy
  }

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy()
    await Promise.all(proxies.splice(0).map((p) => p.cleanup()))
  })

  it('restarts on SIGHUP under load: no failed attempt, every byte intact, the new generation only once ready', async () => {
    const proxy = start(['-m', 'tcp=2', '--grace', '5s'], makeApp(`tcp: exec ${restartable()}\n`))
    const gatewayPort = await proxy.port()
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-2'})
    const load = new LoadGenerator(gatewayPort, 6)
    await load.after(40)
    proxy.child.kill('SIGHUP')
    const completed = await proxy.waitForEvent('restart-completed')
    await load.after(40)
    const exchanges = await load.stop()

    expect(completed).to.include({generation: 2, reason: 'SIGHUP'})
    expect(completed.restarted).to.have.members(['tcp-1', 'tcp-2'])
    expect(completed.failed).to.deep.equal([])
    const failures = exchanges.filter((x) => x.error || !x.received.equals(x.sent))
    expect(failures.map((x) => `${x.error ?? 'corrupt'} ${x.sent.length}/${x.received.length}`)).to.deep.equal([])

    const portsOf = (generation: number) =>
      proxy.events.filter((e) => e.event === 'instance-starting' && e.generation === generation).map((e) => e.port)
    const [oldPorts, newPorts] = [portsOf(1), portsOf(2)]
    expect(exchanges.every((x) => oldPorts.includes(x.port) || newPorts.includes(x.port))).to.equal(true)
    expect(exchanges.filter((x) => newPorts.includes(x.port)).length).to.be.greaterThan(10)

    // In event order: no connection reaches a new instance before its instance-ready.
    for (const [index, e] of proxy.events.entries()) {
      if (e.event !== 'connection-opened' || e.generation !== 2) continue
      const ready = proxy.events.findIndex(
        (r) => r.event === 'instance-ready' && r.instance === e.instance && r.generation === 2,
      )
      expect(ready, `connection ${e.id}`).to.be.within(0, index - 1)
    }

    const switched = proxy.events.filter((e) => e.event === 'restart-switched')
    expect(switched.map((e) => [e.instance, e.from, e.to])).to.have.deep.members([
      ['tcp-1', 1, 2],
      ['tcp-2', 1, 2],
    ])
    // The switch follows readiness at once (issue 6 asks for under 100 ms; the benchmark measures it).
    for (const e of switched) expect(e.switchMs).to.be.below(100)
    const bad = proxy.events.filter((e) =>
      ['client-rejected', 'backend-connect-failed', 'connections-dropped'].includes(e.event),
    )
    expect(bad).to.deep.equal([])
    // The old generation drained its connections and exited on its own, well before the grace period.
    const oldExits = proxy.events.filter((e) => e.event === 'instance-exited' && e.generation === 1)
    expect(oldExits.map((e) => [e.code, e.signal, e.expected])).to.deep.equal([
      [0, null, true],
      [0, null, true],
    ])
  })

  for (const [mode, expected] of [
    ['blackhole', 'silence'],
    ['reset', 'ECONNRESET'],
    ['close', 'end'],
  ] as const) {
    it(`SIGKILLs a server that ignores SIGTERM after the grace period; --drop ${mode}: the client sees ${expected}`, async () => {
      const graceMs = 600
      const proxy = start(
        ['--grace', `${graceMs}ms`, '--drop', mode],
        makeApp(`tcp: exec ${restartable('--ignore-sigterm')}\n`),
      )
      const gatewayPort = await proxy.port()
      await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
      const held = hold(gatewayPort)
      sockets.push(held.socket)
      await held.greeting
      await roundTrip(held, 'before\n')

      proxy.child.kill('SIGHUP')
      const stopping = await proxy.waitForEvent('instance-stopping', {generation: 1})
      // During the grace period the old connection keeps flowing.
      await roundTrip(held, 'during\n')
      const dropped = await proxy.waitForEvent('connections-dropped', {generation: 1})
      expect(dropped).to.include({count: 1, mode})
      const exited = await proxy.waitForEvent('instance-exited', {generation: 1})
      expect(exited).to.include({signal: 'SIGKILL', expected: true})
      expect(ms(exited) - ms(stopping)).to.be.at.least(graceMs - 20)
      await proxy.waitForEvent('restart-completed')

      if (mode === 'blackhole') {
        const dataBefore = held.data
        held.socket.write('after\n')
        // A full round trip through the gateway on a new connection, after the drop...
        const fresh = hold(gatewayPort)
        sockets.push(fresh.socket)
        await fresh.greeting
        await roundTrip(fresh, 'fresh\n')
        // ...and the black-holed client has still heard nothing: no data, no FIN, no RST.
        expect(held.data).to.equal(dataBefore)
        expect([held.ended, held.closed, held.error]).to.deep.equal([false, false, undefined])
      } else {
        expect(await held.outcome).to.equal(expected)
      }
    })
  }

  it('a server that closes its connections on SIGTERM: its clients see a clean close well before the grace period ends', async () => {
    const graceMs = 10_000
    const proxy = start(['-m', 'tcp=2', '--grace', '10s'], makeApp(`tcp: ${restartable('--close-on-sigterm')}\n`))
    const gatewayPort = await proxy.port()
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-2'})
    const clients = [hold(gatewayPort), hold(gatewayPort)]
    sockets.push(...clients.map((c) => c.socket))
    await Promise.all(clients.map((c) => c.greeting))
    const sighupAt = Date.now()
    proxy.child.kill('SIGHUP')
    expect(await Promise.all(clients.map((c) => c.outcome))).to.deep.equal(['end', 'end'])
    expect(Date.now() - sighupAt).to.be.below(graceMs / 2)
    expect(clients.map((c) => c.error)).to.deep.equal([undefined, undefined])
    await proxy.waitForEvent('restart-completed')
    expect(proxy.events.filter((e) => e.event === 'connections-dropped')).to.deep.equal([])
  })

  it('keeps the old generation serving when the new one never becomes ready, retries with backoff and reports it', async function () {
    // The broken generation fails by its boot timeout, so the timeout is long enough for the first generation to
    // start on a loaded machine (400 ms was not, on Node 26 with 2 busy cores); two failed attempts wait it out.
    this.timeout(40_000)
    const dir = makeApp(`tcp: ${restartable('--broken-if broken')}\n`)
    const proxy = start(
      ['--boot-timeout', '3s', '--grace', '1s', '--restart-attempts', '2', '--backoff-base', '50ms'],
      dir,
    )
    const gatewayPort = await proxy.port()
    const ready = await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    writeFileSync(join(dir, 'broken'), '')
    proxy.child.kill('SIGHUP')
    const completed = await proxy.waitForEvent('restart-completed')
    expect(completed).to.include({generation: 2})
    expect(completed.restarted).to.deep.equal([])
    expect(completed.failed).to.deep.equal(['tcp-1'])
    expect(proxy.events.filter((e) => e.event === 'instance-boot-failed' && e.generation === 2)).to.have.length(2)
    const retrying = proxy.events.filter((e) => e.event === 'restart-retrying')
    expect(retrying.map((e) => [e.attempt, e.attempts, e.inMs])).to.deep.equal([[1, 2, 50]])
    const still = hold(gatewayPort)
    sockets.push(still.socket)
    expect(await still.greeting).to.equal(ready.port)

    unlinkSync(join(dir, 'broken'))
    proxy.child.kill('SIGHUP')
    const second = await proxy.waitForEvent('restart-completed', {generation: 3})
    expect(second.restarted).to.deep.equal(['tcp-1'])
    const newReady = await proxy.waitForEvent('instance-ready', {instance: 'tcp-1', generation: 3})
    const fresh = hold(gatewayPort)
    sockets.push(fresh.socket)
    expect(await fresh.greeting).to.equal(newReady.port)
  })
})
