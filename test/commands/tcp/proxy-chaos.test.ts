import {expect} from 'chai'
import {mkdirSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'

import {ProxyProcess, SERVERS, makeApp} from '../../support/proxy.js'

const restartable = (options = '') => `exec node ${join(SERVERS, 'restartable-echo.mjs')} ${options}`.trim()

/** Connects, resolves with the greeting (the serving instance's port), then sends `message` if given. */
function connectAndGreet(port: number, message?: string): Promise<{port: number; socket: net.Socket}> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setEncoding('utf8')
    let data = ''
    socket.on('data', (d: string) => {
      data += d
      if (data.includes('\n')) {
        socket.removeAllListeners('data')
        if (message) socket.write(message)
        resolve({port: Number(data.split('\n')[0]), socket})
      }
    })
    socket.on('error', reject)
  })
}

/** A client with a retry policy: one echo exchange, retried on a new connection if anything goes wrong. */
async function echoWithRetries(port: number, message: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await new Promise<number>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1')
        socket.setEncoding('utf8')
        let data = ''
        socket.on('data', (d: string) => {
          data += d
          if (data.includes('\n') && data.slice(data.indexOf('\n') + 1) === message) socket.end()
          else if (data.includes('\n') && data.indexOf('\n') === data.length - 1) socket.write(message)
        })
        socket.on('error', reject)
        socket.on('close', () =>
          data.endsWith(message) && data.length > message.length ? resolve(attempt) : reject(new Error('closed early')),
        )
      })
    } catch (error) {
      if (attempt >= 5) throw error
    }
  }
}

describe('tcp:proxy crashes, chaos and --watch', function () {
  this.timeout(30_000)
  const proxies: ProxyProcess[] = []
  const sockets: net.Socket[] = []

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy()
    await Promise.all(proxies.splice(0).map((p) => p.cleanup()))
  })

  it('restarts a crashed instance at once, then with exponential backoff, gives up after --max-crashes and exits 1', async () => {
    const proxy = ProxyProcess.start(['--max-crashes', '2', '--backoff-base', '100ms', '--grace', '1s'], {
      cwd: makeApp(`tcp: ${restartable('--crash-on CRASH')}\n`),
    })
    proxies.push(proxy)
    const gatewayPort = await proxy.port()
    let ready = await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    let pid = (await proxy.waitForEvent('instance-starting', {port: ready.port})).pid
    for (const [crash, inMs] of [
      [1, 0],
      [2, 100],
    ]) {
      const client = await connectAndGreet(gatewayPort, 'CRASH')
      sockets.push(client.socket)
      expect(client.port).to.equal(ready.port)
      const exited = await proxy.waitFor((e) => e.event === 'instance-exited' && e.pid === pid)
      expect(exited).to.include({code: 1, expected: false})
      const restarting = await proxy.waitForEvent('instance-restarting', {crashes: crash})
      expect(restarting.inMs).to.equal(inMs)
      // Out of the balancing at once: a client arriving now waits for the restarted instance.
      const next = await connectAndGreet(gatewayPort)
      sockets.push(next.socket)
      const starting = proxy.events.filter((e) => e.event === 'instance-starting').at(-1)!
      ready = await proxy.waitFor((e) => e.event === 'instance-ready' && e.port === starting.port)
      pid = starting.pid
      expect(next.port).to.equal(ready.port)
      const started = proxy.events.filter((e) => e.event === 'instance-starting').at(-1)!
      expect(Date.parse(started.time) - Date.parse(restarting.time)).to.be.at.least(inMs - 5)
    }

    const client = await connectAndGreet(gatewayPort, 'CRASH')
    sockets.push(client.socket)
    const gaveUp = await proxy.waitForEvent('instance-gave-up', {instance: 'tcp-1'})
    expect(gaveUp.crashes).to.equal(2)
    const exit = await proxy.exited
    expect(exit.code).to.equal(1)
    expect(proxy.stderr).to.match(/Every tcp instance crashed too often/)
  })

  it('--chaos restarts random instances at random times, and clients that retry never lose an exchange', async () => {
    const proxy = ProxyProcess.start(['-m', 'tcp=2', '--chaos', '150ms..300ms', '--grace', '1s'], {
      cwd: makeApp(`tcp: ${restartable()}\n`),
    })
    proxies.push(proxy)
    const gatewayPort = await proxy.port()
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-2'})
    const chaosDone = () => proxy.events.filter((e) => e.event === 'restart-completed' && e.reason === 'chaos').length
    let exchanges = 0
    while (chaosDone() < 3) {
      await Promise.all(Array.from({length: 4}, (_, i) => echoWithRetries(gatewayPort, `message ${exchanges}-${i}`)))
      exchanges += 4
    }

    const announced = proxy.events.filter((e) => e.event === 'chaos-restart')
    expect(announced.length).to.be.at.least(3)
    for (const e of announced) expect(e.instance).to.be.oneOf(['tcp-1', 'tcp-2'])
    const chaosRestarts = proxy.events.filter((e) => e.event === 'restart-started' && e.reason === 'chaos')
    for (const e of chaosRestarts) expect(e.instances).to.have.length(1)
    expect(exchanges).to.be.greaterThan(0)
  })

  it('--watch restarts when an app file changes, ignoring node_modules', async () => {
    const dir = makeApp(`tcp: ${restartable()}\n`, {'server.js': '// v1\n'})
    mkdirSync(join(dir, 'node_modules'))
    mkdirSync(join(dir, 'lib'))
    const proxy = ProxyProcess.start(['--watch', '--grace', '1s'], {cwd: dir})
    proxies.push(proxy)
    await proxy.waitForEvent('control-listening')
    writeFileSync(join(dir, 'node_modules', 'x'), 'dependency\n')
    writeFileSync(join(dir, 'lib', 'util.js'), '// new file in a subdirectory\n')
    const started = await proxy.waitForEvent('restart-started', {reason: 'watch'})
    expect(started.files).to.deep.equal([join('lib', 'util.js')])
    const completed = await proxy.waitForEvent('restart-completed', {reason: 'watch'})
    expect(completed.restarted).to.deep.equal(['tcp-1'])

    writeFileSync(join(dir, 'node_modules', 'y'), 'dependency\n')
    writeFileSync(join(dir, 'server.js'), '// v2\n')
    const second = await proxy.waitFor((e) => e.event === 'restart-started' && e.generation === 3)
    expect(second.files).to.deep.equal(['server.js'])
  })
})
