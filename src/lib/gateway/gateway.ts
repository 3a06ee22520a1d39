import {EventEmitter} from 'node:events'

import {hostPort} from '../host-port.js'
import {Balancer} from './balancer.js'
import {ConnectionTable} from './connection-table.js'
import {GatewayError} from './errors.js'
import {nativeTransport, nativeUnavailableReason} from './native-transport.js'
import {streamTransport} from './stream-transport.js'
import type {GatewayIo, Listener, Transport} from './transport.js'
import {
  type BackendInfo,
  type BackendSpec,
  type BalanceMode,
  type DropMode,
  GATEWAY_DEFAULTS,
  type GatewayEvent,
  type GatewayEvents,
  type GatewayOptions,
  type MaxConnectionsMode,
} from './types.js'

const LISTEN_BACKLOG = 1024

/**
 * The local TCP gateway: accepts clients on one address and forwards each connection, for its whole life,
 * to the backend chosen at accept time. Never prints; everything worth telling is an 'event'. A facade: the
 * Balancer picks backends, the ConnectionTable keeps the connections, Connection moves one's bytes.
 */
export class Gateway extends EventEmitter<GatewayEvents> {
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
  /**
   * Why the gateway runs on net.Socket when the native relay was not asked against (it is missing or does not
   * load), for the first line the user sees; undefined on the native relay or when net.Socket was chosen.
   */
  readonly transportFallback: string | undefined

  private listener: Listener | null = null
  private readonly balancer: Balancer
  private readonly table: ConnectionTable

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
    this.transportFallback =
      this.transport.name === 'native' || wantsStreams(options.io) ? undefined : nativeUnavailableReason()
    this.balancer = new Balancer(this.balance)
    this.table = new ConnectionTable(this, this.balancer, this)
  }

  get connections(): {active: number; total: number} {
    return {active: this.table.active, total: this.table.total}
  }

  /** Clients waiting for a ready backend. */
  get waiting(): number {
    return this.table.waiting
  }

  /** Rejects with a GatewayError (EADDRINUSE, EACCES, EADDRNOTAVAIL, else ELISTEN). */
  async listen(): Promise<{host: string; port: number}> {
    try {
      this.listener = await this.transport.listen({
        host: this.host,
        port: this.port,
        backlog: LISTEN_BACKLOG,
        onAccept: (endpoint) => this.table.accept(endpoint),
        // Errors from accept() (EMFILE, ENFILE...): reported, and the gateway keeps serving.
        onAcceptError: (code) => this.table.acceptFailed(code),
      })
    } catch (error) {
      throw listenError(error as NodeJS.ErrnoException, this.host, this.port)
    }

    this.table.startIdleSweep()
    const {host, port} = this.listener
    if (this.listenerCount('event') > 0) this.emit('event', {type: 'listening', host, port} satisfies GatewayEvent)
    return {host, port}
  }

  /** Throws a GatewayError (EBACKENDEXISTS) when `spec.id` is registered already. */
  addBackend(spec: BackendSpec): void {
    this.balancer.add(spec)
  }

  setReady(id: string): void {
    if (this.balancer.setState(id, 'ready')) this.table.serveQueue()
  }

  drain(id: string): void {
    this.balancer.setState(id, 'draining')
  }

  markDown(id: string): void {
    this.balancer.setState(id, 'down')
  }

  dropConnections(id: string, mode: DropMode): number {
    const backend = this.balancer.get(id)
    return backend ? this.table.dropConnections(backend, mode) : 0
  }

  /** Resolves once no connection is still connecting to backend `id` (see ConnectionTable.connectsSettled). */
  connectsSettled(id: string): Promise<void> {
    const backend = this.balancer.get(id)
    return backend ? this.table.connectsSettled(backend) : Promise.resolve()
  }

  removeBackend(id: string): void {
    this.balancer.remove(id)
  }

  backends(): BackendInfo[] {
    const infos = new Map([...this.balancer.all()].map((backend) => [backend, backend.info()]))
    // Piped connections count their bytes in the transport until they close.
    this.table.addPipedBytes(infos)
    return [...infos.values()]
  }

  /** Bytes held in the gateway's memory for all connections right now (socket buffers, both directions). */
  bufferedBytes(): number {
    return this.table.bufferedBytes()
  }

  /** Stops accepting; connections already accepted (queued ones included) carry on. */
  async close(): Promise<void> {
    if (!this.listener) return
    this.listener.close()
    this.listener = null
    await new Promise((resolve) => {
      setImmediate(resolve)
    })
  }

  /** Stops accepting and destroys every connection, held ones included (shutdown). */
  destroy(): void {
    this.listener?.close()
    this.listener = null
    this.table.destroy()
  }
}

/**
 * `io` when given, else SCALINGO_TCP_GATEWAY_IO, else the native relay when its addon was built and loads,
 * else net.Socket. The addon is loaded here, when chosen, never by an import: a gateway on net.Socket never
 * loads relay.node.
 */
function chooseTransport(io: GatewayIo | undefined): Transport {
  return (wantsStreams(io) ? null : nativeTransport()) ?? streamTransport
}

function wantsStreams(io: GatewayIo | undefined): boolean {
  return (io ?? process.env.SCALINGO_TCP_GATEWAY_IO) === 'streams'
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): GatewayError {
  const details = {host, port, cause: error}
  switch (error.code) {
    case 'EADDRINUSE': {
      return new GatewayError('EADDRINUSE', `Port ${port} on ${host} is already in use.`, details)
    }

    case 'EACCES': {
      return new GatewayError('EACCES', `Not allowed to listen on port ${port} on ${host}.`, details)
    }

    case 'EADDRNOTAVAIL': {
      return new GatewayError('EADDRNOTAVAIL', `Address ${host} does not belong to this machine.`, details)
    }

    default: {
      return new GatewayError('ELISTEN', `Cannot listen on ${hostPort(host, port)}: ${error.message}`, details)
    }
  }
}

export {GatewayError, type GatewayErrorCode} from './errors.js'
export type {
  BackendInfo,
  BackendSpec,
  BackendState,
  BalanceMode,
  CloseReason,
  DropMode,
  GatewayEvent,
  GatewayOptions,
  MaxConnectionsMode,
  Rejection,
} from './types.js'
