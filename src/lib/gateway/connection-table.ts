import type {EventEmitter} from 'node:events'

import type {Backend} from './backend.js'
import type {Balancer} from './balancer.js'
import {Connection, type ConnectionHost, ConnectionState} from './connection.js'
import {DescriptorBudget} from './descriptors.js'
import type {Endpoint, Transport} from './transport.js'
import {
  type BackendInfo,
  describeRejection,
  type DropMode,
  type GatewayEvent,
  type GatewayEvents,
  type MaxConnectionsMode,
  type Rejection,
} from './types.js'

/** What the table needs to know of the gateway's options (all resolved: no defaults left to apply). */
export interface ConnectionTableOptions {
  transport: Transport
  queueTimeoutMs: number
  connectTimeoutMs: number
  blackholeTimeoutMs: number
  maxConnections: number
  maxConnectionsMode: MaxConnectionsMode
  idleTimeoutMs: number
  connectionEvents: boolean
}

/**
 * Every connection the gateway accepted, and where each one is: waiting in the queue (for a ready backend or a free
 * slot under maxConnections), connecting (one sweep timer checks the deadlines), open, or dropped with its client
 * socket held. Owns the timers of all of them, the connection limit, the descriptor budget and the idle sweep.
 * It is the host every Connection reports to (ConnectionHost); events go out through `events` (the gateway).
 */
export class ConnectionTable implements ConnectionHost {
  readonly transport: Transport
  readonly idleTimeoutMs: number
  private readonly options: ConnectionTableOptions
  private readonly live = new Set<Connection>()
  /** Waiting clients, first come first served, with their queue timeout. */
  private readonly queue = new Map<Connection, NodeJS.Timeout>()
  /** Dropped connections whose client socket is kept (blackhole) or still closing, with their release timer. */
  private readonly held = new Map<Connection, NodeJS.Timeout>()
  /** Connections waiting for their backend's handshake, with their deadline; one sweep timer checks them. */
  private readonly connecting = new Map<Connection, number>()
  private connectSweep: NodeJS.Timeout | null = null
  /** connectsSettled's callers, by the backend they wait on. */
  private readonly settleWaiters = new Map<Backend, Array<() => void>>()
  private idleSweep: NodeJS.Timeout | null = null
  private nextId = 1
  private activeCount = 0
  private totalCount = 0
  /** While an accept-error burst lasts: the id the next accepted connection gets when it was reported. */
  private acceptErrorReportedAt = 0
  private readonly descriptors = new DescriptorBudget()

  constructor(
    options: ConnectionTableOptions,
    private readonly balancer: Balancer,
    private readonly events: EventEmitter<GatewayEvents>,
  ) {
    this.options = options
    this.transport = options.transport
    this.idleTimeoutMs = options.idleTimeoutMs
  }

  get active(): number {
    return this.activeCount
  }

  get total(): number {
    return this.totalCount
  }

  get waiting(): number {
    return this.queue.size
  }

  /** Starts the idle sweep (when there is an idle timeout): one timer checks every connection, up to a quarter late. */
  startIdleSweep(): void {
    if (this.idleTimeoutMs <= 0 || this.idleSweep) return
    this.idleSweep = setInterval(sweepIdle, Math.max(10, Math.min(1000, this.idleTimeoutMs / 4)), this)
    this.idleSweep.unref()
  }

  /** A client the listener accepted: connected to a ready backend, queued, or refused. */
  accept(client: Endpoint): void {
    if (!this.descriptors.allows(this.activeCount + 1)) {
      client.reset()
      this.acceptFailed('EMFILE')
      return
    }

    const connection = new Connection(this, this.nextId++, client)
    this.activeCount++
    this.totalCount++
    this.live.add(connection)
    const {maxConnections} = this.options
    if (maxConnections > 0 && this.activeCount - this.queue.size > maxConnections) {
      if (this.options.maxConnectionsMode === 'refuse')
        connection.reject({cause: 'connection-limit', limit: maxConnections})
      else this.enqueue(connection)
      return
    }

    const backend = this.balancer.pick(null)
    if (backend) connection.connect(backend)
    else this.enqueue(connection)
  }

  /** accept() failed (EMFILE, ENFILE...), or a backend socket did: one report per burst. */
  acceptFailed(code: string): void {
    // EMFILE repeats for every pending client until descriptors free up.
    if (this.acceptErrorReportedAt > 0) return
    this.acceptErrorReportedAt = this.nextId
    this.emitEvent({type: 'accept-error', error: code})
  }

  /** Serves waiting clients while a backend is ready and a slot is free. */
  serveQueue(): void {
    const {maxConnections} = this.options
    for (const [connection, timer] of this.queue) {
      if (maxConnections > 0 && this.activeCount - this.queue.size >= maxConnections) return
      const backend = this.balancer.pick(null)
      if (!backend) return
      this.queue.delete(connection)
      clearTimeout(timer)
      connection.connect(backend)
    }
  }

  /** Ends the connections of `backend`: those still connecting go to another backend, the others per `mode`. */
  dropConnections(backend: Backend, mode: DropMode): number {
    let dropped = 0
    for (const connection of [...this.live]) {
      if (connection.target !== backend) continue
      if (connection.state === ConnectionState.Connecting) connection.reroute()
      else if (connection.drop(mode)) dropped++
    }

    return dropped
  }

  /**
   * Resolves once no connection is still connecting to `backend` (each attempt ends by its connect timeout at the
   * latest): a rolling restart SIGTERMs the old generation only after the clients handed to it are through.
   */
  connectsSettled(backend: Backend): Promise<void> {
    if (!this.isConnectingTo(backend)) return Promise.resolve()
    return new Promise((resolve) => {
      const waiters = this.settleWaiters.get(backend)
      if (waiters) waiters.push(resolve)
      else this.settleWaiters.set(backend, [resolve])
    })
  }

  private isConnectingTo(backend: Backend): boolean {
    for (const connection of this.connecting.keys()) if (connection.target === backend) return true
    return false
  }

  /** Adds the bytes piped connections counted in the transport so far to their backend's info. */
  addPipedBytes(infos: Map<Backend, BackendInfo>): void {
    for (const connection of this.live) {
      const info = connection.piped ? infos.get(connection.target!) : undefined
      if (!info) continue
      const {bytesIn, bytesOut} = connection.pipedBytes
      info.bytesIn += bytesIn
      info.bytesOut += bytesOut
    }
  }

  bufferedBytes(): number {
    let bytes = 0
    for (const connection of this.live) bytes += connection.bufferedBytes
    return bytes
  }

  /** Destroys every connection, held ones included, and stops every timer (shutdown). */
  destroy(): void {
    for (const timer of this.queue.values()) clearTimeout(timer)
    this.queue.clear()
    for (const connection of [...this.live]) connection.destroy()
    for (const [connection, timer] of this.held) {
      clearTimeout(timer)
      connection.destroy()
    }

    this.held.clear()
    this.connecting.clear()
    for (const waiters of this.settleWaiters.values()) for (const resolve of waiters) resolve()
    this.settleWaiters.clear()
    if (this.connectSweep) clearInterval(this.connectSweep)
    this.connectSweep = null
    if (this.idleSweep) clearInterval(this.idleSweep)
    this.idleSweep = null
  }

  // ConnectionHost: what a Connection tells the table.

  pick(exclude: Backend[] | null): Backend | null {
    return this.balancer.pick(exclude)
  }

  connectStarted(connection: Connection): void {
    this.connecting.set(connection, Date.now() + this.options.connectTimeoutMs)
    if (this.connectSweep) return
    // One timer for every connect attempt instead of one per socket; a timeout fires up to a quarter late.
    this.connectSweep = setInterval(
      sweepConnecting,
      Math.max(10, Math.min(1000, this.options.connectTimeoutMs / 4)),
      this,
    )
    this.connectSweep.unref()
  }

  connectEnded(connection: Connection): void {
    this.connecting.delete(connection)
    if (this.settleWaiters.size === 0) return
    for (const [backend, waiters] of this.settleWaiters) {
      if (this.isConnectingTo(backend)) continue
      this.settleWaiters.delete(backend)
      for (const resolve of waiters) resolve()
    }
  }

  opened(connection: Connection): void {
    // A client accepted after the report got through: descriptors are back, the next failure is a new burst.
    if (this.acceptErrorReportedAt > 0 && connection.id >= this.acceptErrorReportedAt) this.acceptErrorReportedAt = 0
    if (!this.options.connectionEvents || this.events.listenerCount('event') === 0) return
    this.events.emit('event', {
      type: 'connection-opened',
      id: connection.id,
      backend: connection.target!.id,
      client: connection.clientAddress,
    } satisfies GatewayEvent)
  }

  finished(connection: Connection): void {
    this.activeCount--
    this.live.delete(connection)
    // A slot freed up for a client waiting on maxConnections.
    if (this.options.maxConnections > 0 && this.queue.size > 0) this.serveQueue()
    if (!connection.opened || !this.options.connectionEvents || this.events.listenerCount('event') === 0) return
    this.events.emit('event', {
      type: 'connection-closed',
      id: connection.id,
      backend: connection.target!.id,
      bytesIn: connection.bytesIn,
      bytesOut: connection.bytesOut,
      durationMs: Date.now() - connection.startedAt,
      reason: connection.reason ?? 'closed',
    } satisfies GatewayEvent)
  }

  requeue(connection: Connection): void {
    this.enqueue(connection)
  }

  /**
   * Keeps a dropped client socket until it closes or blackholeTimeoutMs passes, then resets it. A black
   * hole must send nothing, but holding sockets forever would leak them; by then any client has long
   * given up on the silent connection (that is what a black hole does to it), so the reset reaches no one
   * who still waits.
   */
  hold(connection: Connection): void {
    const timer = setTimeout(releaseHeld, this.options.blackholeTimeoutMs, this, connection)
    timer.unref()
    this.held.set(connection, timer)
  }

  release(connection: Connection): void {
    const timer = this.queue.get(connection) ?? this.held.get(connection)
    if (timer === undefined) return
    clearTimeout(timer)
    if (!this.queue.delete(connection)) this.held.delete(connection)
  }

  backendFailed(backend: Backend, error: string): void {
    this.emitEvent({type: 'backend-connect-failed', backend: backend.id, error})
  }

  rejected(rejection: Rejection): void {
    if (this.events.listenerCount('event') === 0) return
    this.events.emit('event', {
      type: 'client-rejected',
      reason: describeRejection(rejection),
      ...rejection,
    } satisfies GatewayEvent)
  }

  /** Not the backend's fault, so no failover; reported like accept errors, once per burst. */
  exhausted(code: string): void {
    this.acceptFailed(code)
  }

  // The timers' work.

  /** Fails the attempts past their deadline; stops the timer when nothing is connecting. */
  sweepConnecting(): void {
    const now = Date.now()
    for (const [connection, deadline] of this.connecting) {
      if (now >= deadline && connection.state === ConnectionState.Connecting) connection.connectFailed('ETIMEDOUT')
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

  queueExpired(connection: Connection): void {
    if (!this.queue.delete(connection)) return
    const {maxConnections, queueTimeoutMs: waitedMs} = this.options
    connection.reject(
      maxConnections > 0 && this.balancer.hasReady
        ? {cause: 'no-free-slot', limit: maxConnections, waitedMs}
        : {cause: 'no-ready-backend', waitedMs},
    )
  }

  holdExpired(connection: Connection): void {
    if (!this.held.delete(connection)) return
    connection.expireHold()
  }

  private enqueue(connection: Connection): void {
    this.queue.set(connection, setTimeout(queueExpired, this.options.queueTimeoutMs, this, connection))
    this.emitEvent({type: 'client-queued', waiting: this.queue.size})
  }

  private emitEvent(event: GatewayEvent): void {
    if (this.events.listenerCount('event') > 0) this.events.emit('event', event)
  }
}

function sweepConnecting(table: ConnectionTable): void {
  table.sweepConnecting()
}

function sweepIdle(table: ConnectionTable): void {
  table.sweepIdle()
}

function queueExpired(table: ConnectionTable, connection: Connection): void {
  table.queueExpired(connection)
}

function releaseHeld(table: ConnectionTable, connection: Connection): void {
  table.holdExpired(connection)
}
