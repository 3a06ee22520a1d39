import {once} from 'node:events'
import {mkdtempSync, readdirSync, readFileSync} from 'node:fs'
import {type AddressInfo, connect, createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ProxyProcess, type ProxyOptions} from '../support/proxy.js'

/** Long soak variants run only with RELIABILITY_SOAK=1; the short ones always run. */
export const SOAK = process.env.RELIABILITY_SOAK === '1'

export type {MemoryUsage} from '../support/proxy.js'

/** A directory without a Procfile, for tcp:proxy runs with --upstream only. */
export function emptyDir(): string {
  return mkdtempSync(join(tmpdir(), 'scalingo-tcp-reliability-'))
}

/** Figures a test measured, printed once at the end of the run (the README quotes them). */
export const figures: Record<string, Record<string, number | string>> = {}

export function report(name: string, values: Record<string, number | string>): void {
  figures[name] = values
  if (process.env.RELIABILITY_FIGURES !== '0') console.log(`      [figures] ${name}: ${JSON.stringify(values)}`)
}

/** Resident memory of a process, in KiB (from /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) : Number.NaN
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/** Polls (no event exists for another process's resource use) until check() holds, or fails clearly. */
export async function pollUntil(
  check: () => boolean,
  what: () => string,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** tcp:proxy on an ephemeral port (ProxyProcess), stopped with SIGKILL after 8 s of grace. */
export class Proxy extends ProxyProcess {
  constructor(args: string[], options: ProxyOptions) {
    super(['--port', '0', ...args], options)
  }

  /** Resolves once `count(name)` reaches n (events are counted as they arrive). */
  waitForCount(name: string, n: number, timeoutMs = 30_000): Promise<void> {
    return pollUntil(
      () => this.count(name) >= n,
      () => `${n} ${name} events (got ${this.count(name)})`,
      timeoutMs,
      10,
    )
  }

  override async stop(): Promise<{code: number | null; signal: NodeJS.Signals | null}> {
    return this.cleanup(8000)
  }
}

/** Servers and sockets a test opens, closed in afterEach. */
export class Tracker {
  readonly servers = new Set<Server>()
  readonly sockets = new Set<Socket>()
  readonly proxies = new Set<Proxy>()

  async server(onConnection: (socket: Socket) => void): Promise<{server: Server; port: number}> {
    const server = createServer({allowHalfOpen: true}, (socket) => {
      this.socket(socket)
      socket.on('error', () => {})
      onConnection(socket)
    })
    this.servers.add(server)
    server.listen({host: '127.0.0.1', port: 0, backlog: 4096})
    await once(server, 'listening')
    return {server, port: (server.address() as AddressInfo).port}
  }

  echoServer(): Promise<{server: Server; port: number}> {
    return this.server((socket) => socket.pipe(socket))
  }

  proxy(args: string[], options: ConstructorParameters<typeof Proxy>[1]): Proxy {
    const proxy = new Proxy(args, options)
    this.proxies.add(proxy)
    return proxy
  }

  socket(socket: Socket): Socket {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
    return socket
  }

  async cleanup(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
    await Promise.all([...this.proxies].map((proxy) => proxy.stop()))
    this.proxies.clear()
    for (const server of this.servers) server.close()
    this.servers.clear()
  }
}

export type Outcome = {ok: true; socket: Socket} | {ok: false; error: string}

/**
 * Connects through the gateway and checks the echo of `message`. Settles as soon as the echo is
 * complete (ok, socket left open) or the connection fails or closes first (refused).
 */
export function echoOnce(port: number, message: string, tracker?: Tracker): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port})
    tracker?.socket(socket)
    let received = ''
    let settled = false
    const settle = (outcome: Outcome) => {
      if (settled) return
      settled = true
      socket.off('data', onData)
      resolve(outcome)
    }

    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (received.length < message.length) return
      if (received === message) settle({ok: true, socket})
      else settle({ok: false, error: `wrong echo ${JSON.stringify(received.slice(0, 40))}`})
    }

    socket.on('data', onData)
    socket.on('error', (error: NodeJS.ErrnoException) => settle({ok: false, error: error.code ?? error.message}))
    socket.on('close', () => settle({ok: false, error: 'closed'}))
    socket.write(message)
  })
}

/** Sends `message` on an open socket and resolves once it echoed back whole. */
export function echoAgain(socket: Socket, message: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = ''
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (received.length < message.length) return
      done(received === message ? undefined : new Error(`wrong echo ${JSON.stringify(received.slice(0, 40))}`))
    }

    const onClose = () => done(new Error('connection closed before its echo'))
    const done = (error?: Error) => {
      socket.off('data', onData).off('close', onClose)
      if (error) reject(error)
      else resolve()
    }

    socket.on('data', onData).on('close', onClose)
    socket.write(message)
  })
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = Array.from({length: count})
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      results[i] = await task(i)
    }
  }

  await Promise.all(Array.from({length: Math.min(concurrency, count)}, worker))
  return results
}

/** Closes a socket from our side and resolves once it is fully closed. */
export function closeSocket(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve()
  const closed = once(socket, 'close').then(() => {})
  socket.end()
  return closed
}
