import {once} from 'node:events'
import {type AddressInfo, connect, createServer, type Server, type Socket} from 'node:net'

import {Gateway} from '../../../src/lib/gateway/gateway.js'
import type {GatewayIo} from '../../../src/lib/gateway/transport.js'
import type {GatewayEvent, GatewayOptions} from '../../../src/lib/gateway/types.js'

/** Everything a test starts, so afterEach can tear it all down. */
export class Resources {
  /** The gateway's socket layer for every gateway this creates (the default one when unset). */
  constructor(private readonly io?: GatewayIo) {}

  private readonly servers = new Set<Server>()
  private readonly sockets = new Set<Socket>()
  private readonly gateways = new Set<Gateway>()

  async server(onConnection: (socket: Socket) => void, host = '127.0.0.1'): Promise<{server: Server; port: number}> {
    const server = createServer({allowHalfOpen: true}, (socket) => {
      this.track(socket)
      socket.on('error', () => {})
      onConnection(socket)
    })
    this.servers.add(server)
    server.listen({host, port: 0})
    await once(server, 'listening')
    return {server, port: (server.address() as AddressInfo).port}
  }

  /** A backend that answers every line with its own id: tells the test where a connection landed. */
  idServer(id: string, host?: string): Promise<{server: Server; port: number}> {
    return this.server((socket) => {
      let pending = ''
      socket.setEncoding('utf8')
      socket.on('data', (text: string) => {
        pending += text
        let newline = pending.indexOf('\n')
        while (newline !== -1) {
          pending = pending.slice(newline + 1)
          socket.write(`${id}\n`)
          newline = pending.indexOf('\n')
        }
      })
      socket.on('end', () => socket.end())
    }, host)
  }

  echoServer(): Promise<{server: Server; port: number}> {
    return this.server((socket) => {
      socket.pipe(socket)
    })
  }

  async gateway(
    options: Partial<GatewayOptions> = {},
  ): Promise<{gateway: Gateway; port: number; events: GatewayEvent[]}> {
    const gateway = new Gateway({host: '127.0.0.1', port: 0, io: this.io, ...options})
    const events: GatewayEvent[] = []
    gateway.on('event', (event: GatewayEvent) => events.push(event))
    this.gateways.add(gateway)
    const {port} = await gateway.listen()
    // A gateway that fell back to another transport would test that one instead.
    const io = options.io ?? this.io
    if (io !== undefined && gateway.transport.name !== io)
      throw new Error(`asked for the ${io} transport, got ${gateway.transport.name}`)
    return {gateway, port, events}
  }

  async client(port: number, options: {allowHalfOpen?: boolean} = {}): Promise<Socket> {
    const socket = this.track(connect({host: '127.0.0.1', port, allowHalfOpen: options.allowHalfOpen ?? false}))
    await once(socket, 'connect')
    return socket
  }

  /** A client whose connect may fail or be reset right away: the caller listens for 'error' itself. */
  rawClient(port: number, options: {allowHalfOpen?: boolean} = {}): Socket {
    return this.track(connect({host: '127.0.0.1', port, allowHalfOpen: options.allowHalfOpen ?? false}))
  }

  track(socket: Socket): Socket {
    this.sockets.add(socket)
    return socket
  }

  async cleanup(): Promise<void> {
    for (const gateway of this.gateways) gateway.destroy()
    for (const socket of this.sockets) socket.destroy()
    await Promise.all(
      [...this.servers].map(
        (server) =>
          new Promise((resolve) => {
            server.close(resolve)
          }),
      ),
    )
    this.gateways.clear()
    this.sockets.clear()
    this.servers.clear()
  }
}

/** Line-based request/response over one socket: sends a line, resolves with the next line received. */
export class LineClient {
  private buffer = ''
  private readonly waiters: Array<(line: string) => void> = []
  private readonly lines: string[] = []

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8')
    socket.on('data', (text: string) => {
      this.buffer += text
      let newline = this.buffer.indexOf('\n')
      while (newline !== -1) {
        const line = this.buffer.slice(0, newline)
        this.buffer = this.buffer.slice(newline + 1)
        const waiter = this.waiters.shift()
        if (waiter) waiter(line)
        else this.lines.push(line)
        newline = this.buffer.indexOf('\n')
      }
    })
  }

  request(line: string): Promise<string> {
    this.socket.write(`${line}\n`)
    const queued = this.lines.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    return new Promise((resolve) => {
      this.waiters.push(resolve)
    })
  }
}

/** Resolves with the first gateway event matching `predicate`, including one already recorded. */
export function nextEvent<T extends GatewayEvent['type']>(
  gateway: Gateway,
  events: GatewayEvent[],
  type: T,
  predicate: (event: Extract<GatewayEvent, {type: T}>) => boolean = () => true,
): Promise<Extract<GatewayEvent, {type: T}>> {
  const match = (event: GatewayEvent): event is Extract<GatewayEvent, {type: T}> =>
    event.type === type && predicate(event as Extract<GatewayEvent, {type: T}>)
  const found = events.find((event) => match(event))
  if (found) return Promise.resolve(found as Extract<GatewayEvent, {type: T}>)
  return new Promise((resolve) => {
    const listener = (event: GatewayEvent) => {
      if (!match(event)) return
      gateway.off('event', listener)
      resolve(event)
    }

    gateway.on('event', listener)
  })
}

/** What happened to a socket until it closed: the first error code (if any), whether 'end' came, the data. */
export function outcome(socket: Socket): Promise<{error?: string; ended: boolean; data: string; at: number}> {
  return new Promise((resolve) => {
    let error: string | undefined
    let ended = false
    let data = ''
    socket.on('data', (chunk) => {
      data += chunk.toString()
    })
    socket.on('end', () => {
      ended = true
    })
    socket.on('error', (error_: NodeJS.ErrnoException) => {
      error ??= error_.code
    })
    socket.on('close', () => resolve({error, ended, data, at: Date.now()}))
  })
}
