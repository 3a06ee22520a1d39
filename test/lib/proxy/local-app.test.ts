import {expect} from 'chai'
import {mkdtempSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {ProxyEvent} from '../../../src/lib/contract.js'
import {LocalApp} from '../../../src/lib/proxy/local-app.js'
import type {LocalAppOptions} from '../../../src/lib/proxy/model.js'
import {SERVERS} from '../../support/proxy.js'

const restartable = `node ${join(SERVERS, 'restartable-echo.mjs')}`

function makeLocalApp(overrides: Partial<LocalAppOptions> = {}): LocalApp {
  return new LocalApp({
    cwd: mkdtempSync(join(tmpdir(), 'scalingo-tcp-local-app-')),
    app: 'my-app',
    formation: [{type: 'tcp', command: restartable, count: 2}],
    upstreams: [],
    parentEnv: {PATH: process.env.PATH},
    dotenv: {},
    host: '127.0.0.1',
    port: 0,
    webPort: 5000,
    balance: 'round-robin',
    drop: 'blackhole',
    graceMs: 2000,
    bootTimeoutMs: 5000,
    queueTimeoutMs: 5000,
    maxCrashes: 3,
    backoffBaseMs: 20,
    ...overrides,
  })
}

/** Connects through the gateway and resolves with the greeting line: the port of the instance serving it. */
function greeting(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setEncoding('utf8')
    let received = ''
    socket.on('data', (d: string) => {
      received += d
      if (received.includes('\n')) {
        socket.end()
        resolve(Number(received.split('\n')[0]))
      }
    })
    socket.on('error', reject)
  })
}

describe('LocalApp restart() and status()', function () {
  this.timeout(20_000)
  let app: LocalApp | undefined
  const events: ProxyEvent[] = []

  afterEach(async () => {
    await app?.stop('test over')
    app = undefined
    events.length = 0
  })

  it('restarts every tcp instance into a new generation and reports it', async () => {
    app = makeLocalApp()
    app.on('event', (e: ProxyEvent) => events.push(e))
    await app.start()
    const before = app.status()
    expect(before.app).to.equal('my-app')
    expect(before.restarting).to.equal(false)
    expect(before.instances.map((i) => [i.name, i.generation, i.state, i.restarts])).to.deep.equal([
      ['tcp-1', 1, 'ready', 0],
      ['tcp-2', 1, 'ready', 0],
    ])
    expect(before.instances.every((i) => i.pid! > 0 && i.port! > 0)).to.equal(true)
    const gatewayPort = Number(new URL(before.tcpUrl).port)
    expect(before.instances.map((i) => i.port)).to.include(await greeting(gatewayPort))

    const restarting = app.restart('test')
    expect(app.status().restarting).to.equal(true)
    const report = await restarting
    expect(report).to.include({generation: 2})
    expect(report.restarted).to.have.members(['tcp-1', 'tcp-2'])
    expect(report.failed).to.deep.equal([])
    expect(report.durationMs).to.be.a('number')

    const after = app.status()
    expect(after.restarting).to.equal(false)
    expect(after.instances.map((i) => [i.name, i.generation, i.state, i.restarts])).to.have.deep.members([
      ['tcp-1', 2, 'ready', 1],
      ['tcp-2', 2, 'ready', 1],
    ])
    const newPorts = after.instances.map((i) => i.port)
    expect(newPorts).to.not.include.members(before.instances.map((i) => i.port))
    expect(newPorts).to.include(await greeting(gatewayPort))
    expect(app.status().connections.total).to.equal(2)

    const switched = events.filter((e) => e.event === 'restart-switched')
    expect(switched).to.have.length(2)
    for (const e of switched) if (e.event === 'restart-switched') expect(e.switchMs).to.be.below(100)
    expect(events.some((e) => e.event === 'restart-completed' && e.generation === 2)).to.equal(true)
  })

  it('coalesces requests made during a restart into one next restart', async () => {
    app = makeLocalApp({formation: [{type: 'tcp', command: restartable, count: 1}]})
    app.on('event', (e: ProxyEvent) => events.push(e))
    await app.start()
    const first = app.restart('one')
    const second = app.restart('two')
    const third = app.restart('three')
    const reports = await Promise.all([first, second, third])
    expect(reports.map((r) => r.generation)).to.deep.equal([2, 3, 3])
    expect(
      events.filter((e) => e.event === 'restart-started').map((e) => (e as {reason: string}).reason),
    ).to.deep.equal(['one', 'two'])
    expect(app.status().instances.map((i) => [i.generation, i.restarts])).to.deep.equal([[3, 2]])
  })
})
