import {expect} from 'chai'
import type {Server} from 'node:net'

import {bulk, connections, keepAlive, listen, pongServer, sinkServer, type Target} from '../../bench/loadgen.js'

// A smoke test of the benchmark's load generator against in-process servers: it must measure
// something and count no errors. Speed is never asserted (CI does not time anything).
describe('bench load generator', () => {
  const servers: Server[] = []
  let pong: Target
  let sink: Target

  before(async () => {
    const p = pongServer()
    const s = sinkServer()
    servers.push(p, s)
    pong = await listen(p)
    sink = await listen(s)
  })

  after(async () => {
    await Promise.all(
      servers.map(
        (server) =>
          new Promise((resolve) => {
            server.close(resolve)
          }),
      ),
    )
  })

  it('keeps connections alive and counts PING/PONG round trips with their latency', async () => {
    const result = await keepAlive(pong, {connections: 4, durationMs: 200})
    expect(result.errors).to.equal(0)
    expect(result.count).to.be.greaterThan(10)
    expect(result.perSecond).to.be.greaterThan(0)
    expect(result.p50Ms).to.be.greaterThan(0)
    expect(result.p99Ms).to.be.at.least(result.p50Ms)
  })

  it('opens one connection per request, the server closing after its reply', async () => {
    const result = await connections(pong, {concurrency: 4, durationMs: 200})
    expect(result.errors).to.equal(0)
    expect(result.count).to.be.greaterThan(4)
    expect(result.p99Ms).to.be.at.least(result.p50Ms)
  })

  it('streams bytes one way and reads back how many the sink received', async () => {
    const result = await bulk(sink, {durationMs: 200, chunkBytes: 64 * 1024})
    expect(result.errors).to.equal(0)
    expect(result.bytes).to.be.greaterThan(64 * 1024)
    expect(result.bytes % (64 * 1024)).to.equal(0)
    expect(result.gbitPerSecond).to.be.greaterThan(0)
  })
})
