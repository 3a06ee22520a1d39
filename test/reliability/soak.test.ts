import {expect} from 'chai'
import {connect, type Socket} from 'node:net'
import {join} from 'node:path'

import {makeApp, SERVERS} from '../support/proxy.js'
import {fdCount, rssKiB} from '../support/processes.js'
import {report, SOAK} from '../support/reliability.js'
import {closeSocket, echoOnce, pool, Tracker} from '../support/sockets.js'

const SHORT = SOAK ? 300_000 : 20_000
const LONG = 50
const RESTARTS = SOAK ? 6 : 3

describe('reliability: soak over rolling restarts', function () {
  this.timeout(SOAK ? 1_800_000 : 120_000)
  const tracker = new Tracker()
  afterEach(() => tracker.cleanup())

  it(`${SHORT} short connections and ${LONG} long-lived ones over ${RESTARTS} rolling restarts (SIGHUP): nothing fails, leaks or goes missing`, async () => {
    const app = makeApp(`tcp: node ${join(SERVERS, 'echo-server.mjs')}\n`)
    const gatewayBytes = {in: 0, out: 0, closed: 0}
    const proxy = tracker.proxy(['-m', 'tcp=2', '--grace', '5s'], {
      cwd: app,
      memoryProbe: true,
      keep(e) {
        if (e.event === 'connection-closed') {
          gatewayBytes.in += e.bytesIn as number
          gatewayBytes.out += e.bytesOut as number
          gatewayBytes.closed++
        }

        return !e.event.startsWith('connection-') && e.event !== 'output'
      },
    })
    const port = await proxy.port()
    await proxy.waitFor((e) => e.event === 'instance-ready' && e.instance === 'tcp-2')
    await proxy.waitFor((e) => e.event === 'instance-ready' && e.instance === 'tcp-1')
    const client = {sent: 0, received: 0}

    const shortOne = async (i: number): Promise<boolean> => {
      const message = `short-${i}-${'y'.repeat(i % 200)}\n`
      const outcome = await echoOnce(port, message)
      client.sent += message.length
      if (!outcome.ok) return false
      client.received += message.length
      await closeSocket(outcome.socket)
      return true
    }

    // Warm up, then the baseline everything must come back to.
    await pool(1000, 50, shortOne)
    await proxy.waitForCount('connection-closed', 1000)
    const baseline = {...(await proxy.memory()), fds: fdCount(proxy.pid)}
    let peakRss = rssKiB(proxy.pid) * 1024
    let peakFds = fdCount(proxy.pid)

    // Long-lived clients: talk continuously; when a restart ends their connection (the old instance
    // closes it on SIGTERM, as on the platform) they reconnect, like real clients. A message counts once
    // it echoed back whole; one cut by the close is sent again on the new connection.
    let stopLong = false
    const long = {reconnects: 0, messages: 0, failedConnects: 0}
    const longLived = Array.from({length: LONG}, (_, n) =>
      (async () => {
        let seq = 0
        while (!stopLong) {
          const socket = tracker.socket(connect({host: '127.0.0.1', port}))
          const ok = await new Promise<boolean>((resolve) => {
            socket.once('connect', () => resolve(true))
            socket.once('error', () => resolve(false))
          })
          if (!ok) {
            long.failedConnects++
            continue
          }

          while (!stopLong && (await exchange(socket, `long-${n}-${seq}\n`, client))) {
            seq++
            long.messages++
          }

          if (!stopLong) long.reconnects++
          await closeSocket(socket)
        }
      })(),
    )

    // Restarts spread over the run, one after the other (each waits for the previous to complete).
    let shortDone = 0
    const restarts = (async () => {
      for (let r = 1; r <= RESTARTS; r++) {
        while (shortDone < (SHORT * r) / (RESTARTS + 1)) await new Promise((resolve) => setImmediate(resolve))
        proxy.child.kill('SIGHUP')
        await proxy.waitForCount('restart-completed', r, 60_000)
        peakRss = Math.max(peakRss, rssKiB(proxy.pid) * 1024)
        peakFds = Math.max(peakFds, fdCount(proxy.pid))
      }
    })()

    const started = Date.now()
    const shortResults = await pool(SHORT, 50, async (i) => {
      const ok = await shortOne(i)
      shortDone++
      return ok
    })
    await restarts
    const elapsedMs = Date.now() - started
    stopLong = true
    await Promise.all(longLived)

    const total = 1000 + SHORT + LONG + long.reconnects
    await proxy.waitForCount('connection-closed', total, 60_000)
    const after = {...(await proxy.memory()), fds: fdCount(proxy.pid)}
    const completed = proxy.events.filter((e) => e.event === 'restart-completed')
    const MiB = (bytes: number) => Math.round(bytes / 1024 / 1024)
    const failedShort = shortResults.filter((ok) => !ok).length
    report('soak', {
      short: SHORT,
      longLived: LONG,
      restarts: completed.length,
      elapsedMs,
      attempts: total,
      failedShort,
      failedLongConnects: long.failedConnects,
      longReconnects: long.reconnects,
      longMessages: long.messages,
      clientSent: client.sent,
      gatewayIn: gatewayBytes.in,
      gatewayOut: gatewayBytes.out,
      baselineRssMiB: MiB(baseline.rss),
      peakRssMiB: MiB(peakRss),
      afterRssMiB: MiB(after.rss),
      baselineHeapMiB: MiB(baseline.heapUsed),
      afterHeapMiB: MiB(after.heapUsed),
      baselineFds: baseline.fds,
      peakFds,
      afterFds: after.fds,
    })

    expect(failedShort, 'failed short connections').to.equal(0)
    expect(long.failedConnects, 'failed long-lived connects').to.equal(0)
    expect(proxy.count('client-rejected')).to.equal(0)
    expect(completed.map((e) => e.failed)).to.deep.equal(Array.from({length: RESTARTS}, () => []))
    expect(long.messages).to.be.above(LONG)
    // Every byte accounted for: what the clients wrote is what the gateway forwarded to the instances,
    // and what the clients received is what it forwarded back (messages cut by a restart's close
    // included: their bytes are in both counts, just never echoed).
    expect(gatewayBytes.in).to.equal(client.sent)
    expect(gatewayBytes.out).to.equal(client.received)
    // Flat: descriptors back to the baseline, heap back near it, RSS not growing with the run.
    expect(after.fds).to.be.at.most(baseline.fds + 2)
    expect(after.heapUsed - baseline.heapUsed).to.be.below(8 * 1024 * 1024)
    expect(after.rss - baseline.rss).to.be.below(64 * 1024 * 1024)
    expect(proxy.alive).to.equal(true)
  })
})

/** One message and its echo on a long-lived connection; false when the connection ended first. */
function exchange(socket: Socket, message: string, counts: {sent: number; received: number}): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed || !socket.writable) {
      resolve(false)
      return
    }

    let received = ''
    const onData = (chunk: Buffer) => {
      counts.received += chunk.length
      received += chunk.toString('latin1')
      if (received.length >= message.length) done(received === message)
    }

    const onEnd = () => done(false)
    const done = (ok: boolean) => {
      socket.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onEnd)
      resolve(ok)
    }

    socket.on('data', onData).on('end', onEnd).on('close', onEnd).on('error', onEnd)
    counts.sent += message.length
    socket.write(message)
  })
}
