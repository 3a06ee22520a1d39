import {once} from 'node:events'
import {type AddressInfo, connect, createServer, type Server, type Socket} from 'node:net'

import {ProxyProcess, type ProxyOptions} from './proxy.js'

/** Connects to `host`:`port`, sends `message`, resolves with everything received until the server ends. */
export function exchange(port: number, message: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({host, port})
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => {
      received += d
      if (received.length >= message.length) socket.end()
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(received))
    socket.write(message)
  })
}

/** Servers, sockets and tcp:proxy runs a test opens, closed in afterEach. */
export class Tracker {
  readonly servers = new Set<Server>()
  readonly sockets = new Set<Socket>()
  readonly proxies = new Set<ProxyProcess>()

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

  /** tcp:proxy on an ephemeral port (ProxyProcess.start), cleaned up with SIGKILL after 8 s of grace. */
  proxy(args: string[], options: ProxyOptions): ProxyProcess {
    const proxy = ProxyProcess.start(args, options)
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
    await Promise.all([...this.proxies].map((proxy) => proxy.cleanup(8000)))
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
