import {once} from 'node:events'
import {type AddressInfo, connect, createServer, type Server, type Socket} from 'node:net'
import {performance} from 'node:perf_hooks'

/*
 * The benchmark's load generator and backends, in plain Node. The wire protocol is a subset of Redis's
 * inline protocol, so the same clients also run against redis-server:
 *   keep-alive    "PING\r\n" -> "+PONG\r\n", one request in flight per connection (like redis-benchmark)
 *   connections   "QUIT\r\n" -> "+OK\r\n" then the server closes (one request per connection, server closes
 *                 first so TIME_WAIT lands on the server side, not on the client's ephemeral ports)
 *   bulk          the client streams bytes for the duration, then half-closes; the sink answers with the
 *                 byte count it received (8 bytes, big-endian) and closes
 */

export interface Target {
  host: string
  port: number
}

export interface LatencyFigures {
  p50Ms: number
  p99Ms: number
}

export interface RateResult extends LatencyFigures {
  /** Completed requests (keep-alive) or connections (connections workload). */
  count: number
  errors: number
  seconds: number
  perSecond: number
}

export interface BulkResult {
  bytes: number
  errors: number
  seconds: number
  gbitPerSecond: number
}

const PING = Buffer.from('PING\r\n')
const PONG_LENGTH = '+PONG\r\n'.length
const QUIT = Buffer.from('QUIT\r\n')
const OK_LENGTH = '+OK\r\n'.length

/** Latencies in 10 µs buckets up to 1 s, so recording costs no allocation. */
class Histogram {
  private readonly buckets = new Uint32Array(100_001)
  private total = 0

  record(ms: number): void {
    this.buckets[Math.min(100_000, Math.round(ms * 100))]++
    this.total++
  }

  figures(): LatencyFigures {
    return {p50Ms: this.percentile(0.5), p99Ms: this.percentile(0.99)}
  }

  private percentile(p: number): number {
    if (this.total === 0) return 0
    const rank = Math.ceil(this.total * p)
    let seen = 0
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]
      if (seen >= rank) return i / 100
    }

    return 1000
  }
}

function rate(count: number, errors: number, started: number, histogram: Histogram): RateResult {
  const seconds = (performance.now() - started) / 1000
  return {count, errors, seconds, perSecond: count / seconds, ...histogram.figures()}
}

/** `connections` keep-alive connections, each with one PING in flight, for `durationMs`. */
export async function keepAlive(
  target: Target,
  options: {connections: number; durationMs: number},
): Promise<RateResult> {
  const histogram = new Histogram()
  let count = 0
  let errors = 0
  const sockets = await Promise.all(
    Array.from({length: options.connections}, async () => {
      const socket = connect({host: target.host, port: target.port, noDelay: true})
      await once(socket, 'connect')
      return socket
    }),
  )
  const started = performance.now()
  const deadline = started + options.durationMs
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          let sentAt = performance.now()
          let pending = 0
          socket.on('data', (chunk: Buffer) => {
            pending += chunk.length
            if (pending < PONG_LENGTH) return
            pending -= PONG_LENGTH
            const now = performance.now()
            histogram.record(now - sentAt)
            count++
            if (now < deadline) {
              sentAt = now
              socket.write(PING)
            } else socket.end()
          })
          socket.on('error', () => {
            errors++
          })
          socket.on('close', () => resolve())
          socket.write(PING)
        }),
    ),
  )
  return rate(count, errors, started, histogram)
}

/** `concurrency` loops of connect, QUIT, wait for the reply and the server's close, for `durationMs`. */
export async function connections(
  target: Target,
  options: {concurrency: number; durationMs: number},
): Promise<RateResult> {
  const histogram = new Histogram()
  let count = 0
  let errors = 0
  const started = performance.now()
  const deadline = started + options.durationMs
  const loop = () =>
    new Promise<void>((resolve) => {
      const next = () => {
        if (performance.now() >= deadline) {
          resolve()
          return
        }

        const openedAt = performance.now()
        let received = 0
        let failed = false
        const socket: Socket = connect({host: target.host, port: target.port, noDelay: true})
        socket.on('connect', () => socket.write(QUIT))
        socket.on('data', (chunk: Buffer) => {
          received += chunk.length
          if (received === OK_LENGTH) histogram.record(performance.now() - openedAt)
        })
        socket.on('error', () => {
          failed = true
          errors++
        })
        socket.on('close', () => {
          if (!failed && received >= OK_LENGTH) count++
          else if (!failed) errors++
          next()
        })
      }

      next()
    })
  await Promise.all(Array.from({length: options.concurrency}, loop))
  return rate(count, errors, started, histogram)
}

/** One connection streaming `chunkBytes` writes for `durationMs`; the figure is what the sink received. */
export async function bulk(target: Target, options: {durationMs: number; chunkBytes?: number}): Promise<BulkResult> {
  const chunk = Buffer.alloc(options.chunkBytes ?? 256 * 1024, 0x61)
  const socket = connect({host: target.host, port: target.port, allowHalfOpen: true})
  await once(socket, 'connect')
  let errors = 0
  socket.on('error', () => {
    errors++
  })
  const started = performance.now()
  const deadline = started + options.durationMs
  const reply: Buffer[] = []
  socket.on('data', (data: Buffer) => reply.push(data))
  const closed = once(socket, 'close').catch(() => {})
  const pump = () => {
    while (performance.now() < deadline) {
      if (!socket.write(chunk)) {
        socket.once('drain', pump)
        return
      }
    }

    socket.end()
  }

  pump()
  await closed
  const seconds = (performance.now() - started) / 1000
  const answer = Buffer.concat(reply)
  const bytes = answer.length >= 8 ? Number(answer.readBigUInt64BE(0)) : 0
  if (answer.length < 8) errors++
  return {bytes, errors, seconds, gbitPerSecond: (bytes * 8) / seconds / 1e9}
}

/** The keep-alive and connections backend: PING -> +PONG, QUIT -> +OK then close, anything else -> -ERR. */
export function pongServer(): Server {
  return createServer({noDelay: true}, (socket) => {
    let line = ''
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      line += chunk.toString('latin1')
      let newline = line.indexOf('\n')
      let reply = ''
      while (newline !== -1) {
        const command = line.slice(0, newline).trim().toUpperCase()
        line = line.slice(newline + 1)
        if (command === 'QUIT') {
          socket.end(reply + '+OK\r\n')
          return
        }

        reply += command === 'PING' ? '+PONG\r\n' : '-ERR unknown command\r\n'
        newline = line.indexOf('\n')
      }

      if (reply) socket.write(reply)
    })
  })
}

/** The bulk backend: counts what it receives and, when the sender half-closes, answers with the count. */
export function sinkServer(): Server {
  return createServer({allowHalfOpen: true}, (socket) => {
    let bytes = 0
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length
    })
    socket.on('end', () => {
      const count = Buffer.alloc(8)
      count.writeBigUInt64BE(BigInt(bytes))
      socket.end(count)
    })
  })
}

export async function listen(server: Server, host = '127.0.0.1', port = 0): Promise<Target> {
  server.listen({host, port, backlog: 1024})
  await once(server, 'listening')
  return {host, port: (server.address() as AddressInfo).port}
}
