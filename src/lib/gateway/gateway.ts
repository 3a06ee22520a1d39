import {EventEmitter} from 'node:events'

import {CliError} from '../errors.js'
import {hostPort} from '../host-port.js'
import {Backend} from './backend.js'
import {Connection, ConnectionState} from './connection.js'
import {DescriptorBudget} from './descriptors.js'
import {nativeTransport} from './native-transport.js'
import {streamTransport} from './stream-transport.js'
import {systemError} from './system.js'
import {type Endpoint, type GatewayIo, type Listener, type Transport} from './transport.js'
import {
  type BackendInfo, type BackendSpec, type BalanceMode, type DropMode, GATEWAY_DEFAULTS, type GatewayEvent,
  type GatewayOptions, type MaxConnectionsMode,
} from './types.js'

const LISTEN_BACKLOG = 1024

/**
 * The local TCP gateway: accepts clients on one address and forwards each connection, for its whole life,
 * to the backend chosen at accept time. Never prints; everything worth telling is an 'event'.
 */
export class Gateway extends EventEmitter {
  readonly host: string
  readonly port: number
  readonly balance: BalanceMode
  readonly queueTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly blackholeTimeoutMs: number
  readonly maxConnections: number
  readonly maxConnectionsMode: MaxConnectionsMode
  readonly idleTimeoutMs: number
  readonly connectionEvents: boolean
  readonly transport: Transport

  private listener: Listener | null = null
  private readonly registry = new Map<string, Backend>()
  /** The backends eligible for new connections, in the order they were added. */
  private ready: Backend[] = []
  private cursor = 0
  private readonly queue: Connection[] = []
  private readonly live = new Set<Connection>()
  /** Dropped connections whose client socket is kept (blackhole) or still closing, until released. */
  private readonly held = new Set<Connection>()
  /** Connections waiting for their backend's handshake; one sweep timer checks their deadlines. */
  private readonly connecting = new Set<Connection>()
  private connectSweep: NodeJS.Timeout | null = null
  private idleSweep: NodeJS.Timeout | null = null
  private nextId = 1
  private activeCount = 0
  private totalCount = 0
  /** While an accept-error burst lasts: the id the next accepted connection gets when it was reported. */
  private acceptErrorReportedAt = 0
  private readonly descriptors = new DescriptorBudget()

  constructor(options: GatewayOptions) {
    super()
    this.host = options.host
    this.port = options.port
    this.balance = options.balance ?? GATEWAY_DEFAULTS.balance
    this.queueTimeoutMs = options.queueTimeoutMs ?? GATEWAY_DEFAULTS.queueTimeoutMs
    this.connectTimeoutMs = options.connectTimeoutMs ?? GATEWAY_DEFAULTS.connectTimeoutMs
    this.blackholeTimeoutMs = options.blackholeTimeoutMs ?? GATEWAY_DEFAULTS.blackholeTimeoutMs
    this.maxConnections = options.maxConnections ?? GATEWAY_DEFAULTS.maxConnections
    this.maxConnectionsMode = options.maxConnectionsMode ?? GATEWAY_DEFAULTS.maxConnectionsMode
    this.idleTimeoutMs = options.idleTimeoutMs ?? GATEWAY_DEFAULTS.idleTimeoutMs
    this.connectionEvents = options.connectionEvents ?? GATEWAY_DEFAULTS.connectionEvents
    this.transport = chooseTransport(options.io)
  }

  get connections(): {active: number; total: number} {
    return {active: this.activeCount, total: this.totalCount}
  }

  /** Clients waiting for a ready backend. */
  get waiting(): number {
    return this.queue.length
  }

  async listen(): Promise<{host: string; port: number}> {
    try {
      this.listener = await this.transport.listen({
        host: this.host,
        port: this.port,
        backlog: LISTEN_BACKLOG,
        onAccept: endpoint => this.accept(endpoint),
        // Errors from accept() (EMFILE, ENFILE...): reported, and the gateway keeps serving.
        onAcceptError: code => this.acceptFailed(systemError(code, code)),
      })
    } catch (error) {
      throw listenError(error as NodeJS.ErrnoException, this.host, this.port)
    }

    if (this.idleTimeoutMs > 0) {
      // One timer checks every connection; an idle connection closes up to a quarter of the timeout late.
      this.idleSweep = setInterval(sweepIdle, Math.max(10, Math.min(1000, this.idleTimeoutMs / 4)), this)
      this.idleSweep.unref()
    }

    const {host, port} = this.listener
    this.emitEvent({type: 'listening', host, port})
    return {host, port}
  }

  addBackend(spec: BackendSpec): void {
    if (this.registry.has(spec.id)) throw new Error(`Backend ${spec.id} is already registered.`)
    this.registry.set(spec.id, new Backend(spec))
  }

  setReady(id: string): void {
    if (!this.setState(id, 'ready')) return
    this.serveQueue()
  }

  drain(id: string): void {
    this.setState(id, 'draining')
  }

  markDown(id: string): void {
    this.setState(id, 'down')
  }

  dropConnections(id: string, mode: DropMode): number {
    const backend = this.registry.get(id)
    if (!backend) return 0
    let dropped = 0
    for (const connection of [...this.live]) {
      if (connection.target !== backend) continue
      if (connection.state === ConnectionState.Connecting) connection.reroute()
      else if (connection.drop(mode)) dropped++
    }

    return dropped
  }

  removeBackend(id: string): void {
    const backend = this.registry.get(id)
    if (!backend) return
    this.registry.delete(id)
    if (backend.state === 'ready') this.refreshReady()
  }

  backends(): BackendInfo[] {
    const infos = new Map([...this.registry.values()].map(backend => [backend, backend.info()]))
    // Piped connections count their bytes in the transport until they close.
    for (const connection of this.live) {
      const info = connection.piped ? infos.get(connection.target!) : undefined
      if (!info) continue
      const {bytesIn, bytesOut} = connection.pipedBytes
      info.bytesIn += bytesIn
      info.bytesOut += bytesOut
    }

    return [...infos.values()]
  }

  /** Bytes held in the gateway's memory for all connections right now (socket buffers, both directions). */
  bufferedBytes(): number {
    let bytes = 0
    for (const connection of this.live) bytes += connection.bufferedBytes
    return bytes
  }

  /** Stops accepting; connections already accepted (queued ones included) carry on. */
  async close(): Promise<void> {
    if (!this.listener) return
    this.listener.close()
    this.listener = null
    await new Promise(resolve => {
      setImmediate(resolve)
    })
  }

  /** Stops accepting and destroys every connection, held ones included (shutdown). */
  destroy(): void {
    this.listener?.close()
    this.listener = null
    for (const connection of this.queue) clearTimeout(connection.timer!)
    this.queue.length = 0
    for (const connection of [...this.live]) connection.destroy()
    for (const connection of this.held) {
      clearTimeout(connection.timer!)
      connection.client.close()
    }

    this.held.clear()
    this.connecting.clear()
    if (this.connectSweep) clearInterval(this.connectSweep)
    this.connectSweep = null
    if (this.idleSweep) clearInterval(this.idleSweep)
    this.idleSweep = null
  }

  // Below: called by Connection only.

  connectStarted(connection: Connection): void {
    connection.connectDeadline = Date.now() + this.connectTimeoutMs
    this.connecting.add(connection)
    if (this.connectSweep) return
    // One timer for every connect attempt instead of one per socket; a timeout fires up to a quarter late.
    this.connectSweep = setInterval(sweepConnecting, Math.max(10, Math.min(1000, this.connectTimeoutMs / 4)), this)
    this.connectSweep.unref()
  }

  connectEnded(connection: Connection): void {
    this.connecting.delete(connection)
  }

  /** Fails the attempts past their deadline; stops the timer when nothing is connecting. */
  sweepConnecting(): void {
    const now = Date.now()
    for (const connection of this.connecting) {
      if (now >= connection.connectDeadline && connection.state === ConnectionState.Connecting) {
        connection.connectFailed('ETIMEDOUT')
      }
    }

    if (this.connecting.size === 0 && this.connectSweep) {
      clearInterval(this.connectSweep)
      this.connectSweep = null
    }
  }

  /** Closes the open connections that exchanged nothing for idleTimeoutMs. */
  sweepIdle(): void {
    for (const connection of this.live) {
      if (connection.state === ConnectionState.Open && connection.idleMs() >= this.idleTimeoutMs) connection.idleOut()
    }
  }

  /** The backend for a new connection, skipping `exclude` (backends that already refused this client). */
  pick(exclude: Backend[] | null): Backend | null {
    const {ready} = this
    const count = ready.length
    if (count === 0) return null
    if (this.balance === 'round-robin') {
      for (let offset = 0; offset < count; offset++) {
        const index = (this.cursor + offset) % count
        const backend = ready[index]
        if (exclude === null || !exclude.includes(backend)) {
          // A failover pick leaves the rotation alone, so a refusing backend does not skew the split.
          if (exclude === null) this.cursor = (index + 1) % count
          return backend
        }
      }

      return null
    }

    // least-conn: fewest active connections; ties go round-robin from the cursor.
    let best: Backend | null = null
    let bestIndex = 0
    for (let offset = 0; offset < count; offset++) {
      const index = (this.cursor + offset) % count
      const backend = ready[index]
      if ((exclude === null || !exclude.includes(backend)) && (best === null || backend.active < best.active)) {
        best = backend
        bestIndex = index
      }
    }

    if (best && exclude === null) this.cursor = (bestIndex + 1) % count
    return best
  }

  connectionOpened(connection: Connection): void {
    // A client accepted after the report got through: descriptors are back, the next failure is a new burst.
    if (this.acceptErrorReportedAt > 0 && connection.id >= this.acceptErrorReportedAt) this.acceptErrorReportedAt = 0
    if (!this.connectionEvents || this.listenerCount('event') === 0) return
    this.emit('event', {
      type: 'connection-opened', id: connection.id, backend: connection.target!.id, client: connection.clientAddress,
    } satisfies GatewayEvent)
  }

  connectionFinished(connection: Connection): void {
    this.activeCount--
    this.live.delete(connection)
    // A slot freed up for a client waiting on --max-connections.
    if (this.maxConnections > 0 && this.queue.length > 0) this.serveQueue()
    if (!connection.opened || !this.connectionEvents || this.listenerCount('event') === 0) return
    this.emit('event', {
      type: 'connection-closed',
      id: connection.id,
      backend: connection.target!.id,
      bytesIn: connection.bytesIn,
      bytesOut: connection.bytesOut,
      durationMs: Date.now() - connection.startedAt,
      reason: connection.reason ?? 'closed',
    } satisfies GatewayEvent)
  }

  backendConnectFailed(backend: Backend, error: string): void {
    this.emitEvent({type: 'backend-connect-failed', backend: backend.id, error})
  }

  clientRejected(reason: string): void {
    this.emitEvent({type: 'client-rejected', reason})
  }

  unqueue(connection: Connection): void {
    const index = this.queue.indexOf(connection)
    if (index === -1) return
    this.queue.splice(index, 1)
    clearTimeout(connection.timer!)
    connection.timer = null
  }

  /**
   * Keeps a dropped client socket until it closes or blackholeTimeoutMs passes, then resets it. A black
   * hole must send nothing, but holding sockets forever would leak them; by then any client has long
   * given up on the silent connection (that is what a black hole does to it), so the reset reaches no one
   * who still waits.
   */
  hold(connection: Connection): void {
    this.held.add(connection)
    connection.timer = setTimeout(releaseHeld, this.blackholeTimeoutMs, this, connection)
    connection.timer.unref()
  }

  release(connection: Connection): void {
    if (!this.held.delete(connection)) return
    clearTimeout(connection.timer!)
    connection.timer = null
  }

  /**
   * The gateway itself ran out of something (EMFILE/ENFILE on a backend socket): not the backend's fault,
   * so no failover; reported like accept errors, once per burst.
   */
  resourceExhausted(code: string): void {
    this.acceptFailed(Object.assign(new Error(code), {code}))
  }

  private accept(client: Endpoint): void {
    if (!this.descriptors.allows(this.activeCount + 1)) {
      client.reset()
      this.acceptFailed(systemError('EMFILE', 'EMFILE'))
      return
    }

    const connection = new Connection(this, this.nextId++, client)
    this.activeCount++
    this.totalCount++
    this.live.add(connection)
    if (this.maxConnections > 0 && this.activeCount - this.queue.length > this.maxConnections) {
      if (this.maxConnectionsMode === 'refuse') {
        connection.reject(`${this.maxConnections} connections already open (--max-connections)`)
        return
      }

      this.enqueue(connection)
      return
    }

    const backend = this.pick(null)
    if (backend) connection.connect(backend)
    else this.enqueue(connection)
  }

  /** A client whose backend went away before it was connected waits again for a ready one. */
  requeue(connection: Connection): void {
    this.enqueue(connection)
  }

  private enqueue(connection: Connection): void {
    this.queue.push(connection)
    connection.timer = setTimeout(queueExpired, this.queueTimeoutMs, this, connection)
    this.emitEvent({type: 'client-queued', waiting: this.queue.length})
  }

  private serveQueue(): void {
    while (this.queue.length > 0) {
      if (this.maxConnections > 0 && this.activeCount - this.queue.length >= this.maxConnections) return
      const backend = this.pick(null)
      if (!backend) return
      const connection = this.queue.shift()!
      clearTimeout(connection.timer!)
      connection.timer = null
      connection.connect(backend)
    }
  }

  private setState(id: string, state: Backend['state']): boolean {
    const backend = this.registry.get(id)
    if (!backend) return false
    if (backend.state === state) return true
    const wasReady = backend.state === 'ready'
    backend.state = state
    if (wasReady || state === 'ready') this.refreshReady()
    return true
  }

  private refreshReady(): void {
    this.ready = [...this.registry.values()].filter(backend => backend.state === 'ready')
    if (this.cursor >= this.ready.length) this.cursor = 0
  }

  private acceptFailed(error: NodeJS.ErrnoException): void {
    // One report per burst: EMFILE repeats for every pending client until descriptors free up.
    if (this.acceptErrorReportedAt > 0) return
    this.acceptErrorReportedAt = this.nextId
    this.emitEvent({type: 'accept-error', error: error.code ?? error.message})
  }

  private emitEvent(event: GatewayEvent): void {
    if (this.listenerCount('event') > 0) this.emit('event', event)
  }
}

function sweepConnecting(gateway: Gateway): void {
  gateway.sweepConnecting()
}

function sweepIdle(gateway: Gateway): void {
  gateway.sweepIdle()
}

function queueExpired(gateway: Gateway, connection: Connection): void {
  gateway.unqueue(connection)
  const waitedFor = gateway.maxConnections > 0 && gateway.backends().some(backend => backend.state === 'ready')
    ? `no connection slot freed up (--max-connections ${gateway.maxConnections})`
    : 'no backend became ready'
  connection.reject(`${waitedFor} within ${gateway.queueTimeoutMs} ms`)
}

function releaseHeld(gateway: Gateway, connection: Connection): void {
  gateway.release(connection)
  connection.client.reset()
}

/**
 * `io` when given, else SCALINGO_TCP_GATEWAY_IO, else the native relay when its addon was built and loads,
 * else net.Socket. The addon is loaded here, when chosen, never by an import: a gateway on net.Socket never
 * loads relay.node.
 */
function chooseTransport(io: GatewayIo | undefined): Transport {
  const wanted = io ?? process.env.SCALINGO_TCP_GATEWAY_IO
  return (wanted === 'streams' ? null : nativeTransport()) ?? streamTransport
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (error.code) {
    case 'EADDRINUSE': {
      return new CliError(`Port ${port} on ${host} is already in use.`, {
        suggestions: ['Pass --port <another port>, or stop the program using it.'], code: 'EADDRINUSE',
      })
    }

    case 'EACCES': {
      return new CliError(`Not allowed to listen on port ${port} on ${host}.`, {
        suggestions: ['Pass --port with a port above 1023, or run with the privileges that port needs.'],
        code: 'EACCES',
      })
    }

    case 'EADDRNOTAVAIL': {
      return new CliError(`Address ${host} does not belong to this machine.`, {
        suggestions: ['Pass --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface).'],
        code: 'EADDRNOTAVAIL',
      })
    }

    default: {
      return new CliError(`Cannot listen on ${hostPort(host, port)}: ${error.message}`, {code: error.code ?? 'ERROR'})
    }
  }
}

export type {
  BackendInfo, BackendSpec, BackendState, BalanceMode, CloseReason, DropMode, GatewayEvent, GatewayOptions,
  MaxConnectionsMode,
} from './types.js'
