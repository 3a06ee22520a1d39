import {expect} from 'chai'
import {connect, type Socket} from 'node:net'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {makeApp, type ProxyProcess, SERVERS} from '../support/proxy.js'
import {echoAgain, Tracker} from '../support/sockets.js'

const FAULTY = fileURLToPath(new URL('fixtures/faulty-server.mjs', import.meta.url))

type Result = {kind: 'echo' | 'reset' | 'closed'; data: string}

interface Probe {
  socket: Socket
  /** Undefined when the connection ended before the client saw it connect (see probe). */
  localPort?: number
  /** Settles with how the connection ended up: echoed (still open), reset, or closed. */
  result: Promise<Result>
}

describe('reliability: instance faults', function () {
  this.timeout(30_000)
  const tracker = new Tracker()
  afterEach(() => tracker.cleanup())

  /**
   * Connects, sends `ping\n`; `echo` once `<banner>\nping\n` came back, or how it ended otherwise.
   * The gateway may accept, pick a faulty instance and reset the client before the client's own connect
   * event runs (Node then reports `connect ECONNRESET`): that is an outcome too, with no local port.
   */
  async function probe(port: number): Promise<Probe> {
    const socket = tracker.socket(connect({host: '127.0.0.1', port}))
    let data = ''
    const result = new Promise<Result>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString('utf8')
        if (/^(tcp-\d\n)?ping\n$/.test(data)) resolve({kind: 'echo', data})
      })
      socket.on('error', (error: NodeJS.ErrnoException) =>
        resolve({kind: error.code === 'ECONNRESET' ? 'reset' : 'closed', data}),
      )
      socket.on('close', () => resolve({kind: 'closed', data}))
    })
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true))
      socket.once('close', () => resolve(false))
    })
    if (connected) socket.write('ping\n')
    return {socket, localPort: connected ? socket.localPort : undefined, result}
  }

  async function faultyApp(fault: string, extra: string[] = []): Promise<{proxy: ProxyProcess; port: number}> {
    const app = makeApp(`tcp: node ${FAULTY}\n`)
    const proxy = tracker.proxy(['-m', 'tcp=2', '--drop', 'reset', ...extra], {
      cwd: app,
      env: {FAULTY: 'tcp-1', FAULT: fault},
    })
    const port = await proxy.port()
    await proxy.waitFor((e) => e.event === 'instance-ready' && e.instance === 'tcp-1')
    await proxy.waitFor((e) => e.event === 'instance-ready' && e.instance === 'tcp-2')
    return {proxy, port}
  }

  /** Which instance the gateway gave each probe (from connection-opened events); `unconnected` for one ended before connect. */
  async function instancesOf(proxy: ProxyProcess, probes: Probe[]): Promise<string[]> {
    return Promise.all(
      probes.map(async (p) => {
        if (p.localPort === undefined) return 'unconnected'
        const opened = await proxy.waitFor(
          (e) => e.event === 'connection-opened' && e.client === `127.0.0.1:${p.localPort}`,
        )
        return opened.instance as string
      }),
    )
  }

  /** A healthy connection to tcp-2, open before the fault, that must keep working through it. */
  async function bystander(proxy: ProxyProcess, port: number): Promise<Socket> {
    for (;;) {
      const p = await probe(port)
      const [instance] = await instancesOf(proxy, [p])
      if (instance === 'tcp-2') {
        expect((await p.result).kind).to.equal('echo')
        return p.socket
      }

      p.socket.destroy()
    }
  }

  it('an instance that accepts then resets: its clients see a reset at once, the others carry on', async () => {
    const {proxy, port} = await faultyApp('reset')
    const probes = await Promise.all(Array.from({length: 8}, () => probe(port)))
    const instances = await instancesOf(proxy, probes)
    const results = await Promise.all(probes.map((p) => p.result))
    // A reset that beats the gateway's connect callback is a failed connect: the client fails over to
    // tcp-2 and never notices. One that comes after reaches the client as a reset.
    // Only tcp-1 resets, so a probe reset before it saw its own connect event was on tcp-1.
    const onFaulty = instances.map((instance) => instance === 'tcp-1' || instance === 'unconnected')
    for (const [i, result] of results.entries()) {
      if (onFaulty[i]) expect(result.kind, `client ${i} on tcp-1`).to.be.oneOf(['reset', 'closed'])
      else expect(result, `client ${i} on tcp-2`).to.deep.equal({kind: 'echo', data: 'tcp-2\nping\n'})
    }

    const resetOnes = onFaulty.filter(Boolean).length
    await proxy.waitForCount('connection-closed', resetOnes)
    const closed = proxy.events.filter((e) => e.event === 'connection-closed' && e.instance === 'tcp-1')
    expect(closed.map((e) => e.reason)).to.deep.equal(Array.from({length: resetOnes}, () => 'backend-reset'))
    expect(resetOnes + proxy.count('backend-connect-failed')).to.be.at.least(4)
  })

  it('an instance that never answers holds only its own clients, and they learn at once when it dies', async () => {
    const {proxy, port} = await faultyApp('silent')
    const healthy = await bystander(proxy, port)
    const probes = await Promise.all(Array.from({length: 6}, () => probe(port)))
    const instances = await instancesOf(proxy, probes)
    const onHealthy = probes.filter((_, i) => instances[i] === 'tcp-2')
    const onSilent = probes.filter((_, i) => instances[i] === 'tcp-1')
    expect(onSilent.length).to.be.greaterThan(0)
    for (const p of onHealthy) expect((await p.result).kind).to.equal('echo')
    await echoAgain(healthy, 'still here\n')

    const silent = proxy.events.find((e) => e.event === 'instance-starting' && e.instance === 'tcp-1')!
    process.kill(-silent.pid, 'SIGKILL')
    // The kernel closes a killed process's sockets (FIN, or RST with unread bytes): either way the
    // client learns at once, it does not hang.
    for (const p of onSilent)
      expect(await p.result)
        .to.deep.include({data: ''})
        .and.satisfy((r: Result) => r.kind !== 'echo')

    await echoAgain(healthy, 'and still here\n')
    await proxy.waitFor((e) => e.event === 'instance-restarting' && e.instance === 'tcp-1')
  })

  it('an instance that dies mid-transfer: its clients see the connection end (no hang), the others carry on, it restarts', async () => {
    const {proxy, port} = await faultyApp('die')
    const healthy = await bystander(proxy, port)
    let onDying: Probe | undefined
    while (!onDying) {
      const p = await probe(port)
      const [instance] = await instancesOf(proxy, [p])
      // Reset before it saw its connect event: it came while tcp-1 was dying from an earlier probe.
      if (instance === 'unconnected') continue
      if (instance === 'tcp-1') onDying = p
      else expect((await p.result).kind).to.equal('echo')
    }

    const result = await onDying.result
    expect(result.kind).to.be.oneOf(['reset', 'closed'])
    // What arrived is a prefix of what it sent (a reset may discard what the client had not read yet).
    expect('tcp-1\npartial:'.startsWith(result.data)).to.equal(true)
    await proxy.waitFor((e) => e.event === 'instance-exited' && e.instance === 'tcp-1' && e.expected === false)
    await echoAgain(healthy, 'unaffected\n')
    await proxy.waitFor((e) => e.event === 'instance-restarting' && e.instance === 'tcp-1')
    const closed = proxy.events.filter((e) => e.event === 'connection-closed' && e.instance === 'tcp-2')
    expect(closed.every((e) => e.reason === 'closed')).to.equal(true)
  })

  it('an instance that exits during boot, one that floods stdout with invalid UTF-8: the gateway and its log keep working', async () => {
    const app = makeApp(
      [
        `tcp: node ${join(SERVERS, 'echo-server.mjs')}`,
        `boot: node ${join(SERVERS, 'crash.mjs')} 3 'dies while booting'`,
        `noisy: node ${join(SERVERS, 'flood.mjs')} --bytes 4000000 --line-length 200 --invalid-utf8 --stderr`,
        `endless: node ${join(SERVERS, 'flood.mjs')} --bytes 2000000 --no-newlines`,
      ].join('\n') + '\n',
    )
    const proxy = tracker.proxy(['--max-crashes', '0'], {
      cwd: app,
      keep: (e) => e.event !== 'output' || !/^(out|err):\d+:/.test(e.line),
    })
    const port = await proxy.port()
    await proxy.waitFor((e) => e.event === 'instance-ready' && e.instance === 'tcp-1')
    // Connections are served while the floods run.
    const clients = await Promise.all(Array.from({length: 20}, () => probe(port)))
    for (const client of clients) expect((await client.result).data).to.equal('ping\n')
    await proxy.waitFor((e) => e.event === 'instance-exited' && e.instance === 'noisy-1', 30_000)
    await proxy.waitFor((e) => e.event === 'instance-exited' && e.instance === 'endless-1', 30_000)
    await proxy.waitFor((e) => e.event === 'instance-gave-up' && e.instance === 'boot-1')
    // Every line arrived whole (about 20,000 per stream), invalid bytes replaced; a line the bounded output buffer
    // had to drop while this test's reader lagged is counted by an output-dropped event, never silently lost.
    const dropped = proxy.events
      .filter((e) => e.event === 'output-dropped')
      .reduce((sum, e) => sum + Number(e.lines), 0)
    expect(proxy.count('output') + dropped).to.be.above(40_000)
    // The crashing instance's last line is delivered, or (if the floods filled the buffer then) counted as dropped.
    const bootLine = proxy.events.some(
      (e) => e.event === 'output' && e.instance === 'boot-1' && e.line === 'dies while booting',
    )
    expect(bootLine || dropped > 0, 'the boot line was neither delivered nor counted as dropped').to.equal(true)
    expect(proxy.stderr).to.equal('')
    const after = await probe(port)
    expect((await after.result).data).to.equal('ping\n')
    expect(proxy.alive).to.equal(true)
  })
})
