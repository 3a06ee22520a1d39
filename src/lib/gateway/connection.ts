import type {Backend} from './backend.js'
import {type Endpoint, type EndpointHandler, isResetError, type Transport} from './transport.js'
import type {CloseReason, DropMode, Rejection} from './types.js'

export const ConnectionState = {Queued: 0, Connecting: 1, Open: 2, Dropped: 3} as const
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState]

/**
 * What a Connection needs from the gateway that owns it (the connection table): the only way it reaches the
 * gateway. It writes none of the gateway's fields, and the gateway writes none of its own.
 */
export interface ConnectionHost {
  /** Makes the backend sockets. */
  readonly transport: Transport
  /** Above 0, the connection keeps lastActiveAt up to date (read once, at construction). */
  readonly idleTimeoutMs: number
  /** A ready backend, skipping `exclude` (those this client tried already); null when none is left. */
  pick(exclude: Backend[] | null): Backend | null
  /** A connect attempt started: its timeout runs until connectEnded. */
  connectStarted(connection: Connection): void
  /** The attempt connected, failed or was abandoned. */
  connectEnded(connection: Connection): void
  /** The backend accepted the connection; no byte went either way yet. */
  opened(connection: Connection): void
  /** The connection's accounting ended (once); its client socket may be held a while longer (hold). */
  finished(connection: Connection): void
  /** The backend it was connecting to went away and no other is ready: it waits in the queue again. */
  requeue(connection: Connection): void
  /** Keep its client socket (a dropped connection) until it closes, or reset it when the hold runs out. */
  hold(connection: Connection): void
  /** It leaves the queue or the hold by itself (dropped while queued, its client closed): no timer for it. */
  release(connection: Connection): void
  /** A backend refused it or failed (`error`: the code). */
  backendFailed(backend: Backend, error: string): void
  /** Reset without reaching a backend. */
  rejected(rejection: Rejection): void
  /** The gateway itself is out of descriptors (EMFILE/ENFILE on a backend socket). */
  exhausted(code: string): void
}

/**
 * One proxied client connection: the client's endpoint, the backend's once chosen, and what happens to one
 * when the other reads, ends, drains or closes. Bytes go straight from one endpoint's read buffer into the
 * other's write; a write that has to wait keeps the buffer and pauses the reading side until it drains.
 */
export class Connection implements EndpointHandler {
  readonly id: number
  readonly client: Endpoint
  readonly startedAt = Date.now()
  upstream: Endpoint | null = null
  target: Backend | null = null
  state: ConnectionState = ConnectionState.Queued
  bytesIn = 0
  bytesOut = 0
  reason: CloseReason | null = null
  opened = false
  finished = false
  /** When a byte last went either way (only kept up to date when the gateway has an idle timeout). */
  lastActiveAt = 0
  /** The transport moves the bytes itself (Endpoint.pipe): bytes are counted by the endpoints. */
  piped = false
  /** The upstream endpoint while piped, kept for its byte count after it is detached. */
  private pipedUpstream: Endpoint | null = null
  /** Backends that refused this client already, so failover tries each at most once. */
  private tried: Backend[] | null = null
  /** Whether the data path keeps lastActiveAt (the gateway has an idle timeout). */
  private readonly tracksIdle: boolean

  constructor(
    private readonly host: ConnectionHost,
    id: number,
    client: Endpoint,
  ) {
    this.id = id
    this.client = client
    this.tracksIdle = host.idleTimeoutMs > 0
    client.handler = this
  }

  get clientAddress(): string {
    return this.client.remoteAddress()
  }

  /** Bytes this connection holds in the gateway's memory right now (both sockets, both directions). */
  get bufferedBytes(): number {
    return this.client.pendingBytes + (this.upstream?.pendingBytes ?? 0)
  }

  connect(backend: Backend): void {
    this.state = ConnectionState.Connecting
    this.target = backend
    backend.active++
    this.upstream = this.host.transport.connect(backend.address, backend.port, this)
    this.host.connectStarted(this)
  }

  onConnect(): void {
    this.host.connectEnded(this)
    this.state = ConnectionState.Open
    this.opened = true
    this.target!.total++
    if (this.tracksIdle) this.lastActiveAt = Date.now()
    // Reported before any byte flows: pipe() may pass on, and even end, the connection before it returns.
    this.host.opened(this)
    if (this.state !== ConnectionState.Open) return
    const upstream = this.upstream!
    // The client was not read since accept: what it sent meanwhile waits in the kernel and flows now.
    if (this.client.pipe) {
      this.piped = true
      this.pipedUpstream = upstream
      this.client.pipe(upstream)
    } else {
      upstream.readStart()
      this.client.readStart()
    }
  }

  onConnectFailed(_endpoint: Endpoint, error: string): void {
    this.connectFailed(error)
  }

  connectFailed(error: string): void {
    const backend = this.target!
    this.detachUpstream()
    backend.active--
    if (error === 'EMFILE' || error === 'ENFILE') {
      // Out of descriptors here, not a failing backend: no failover (it would fail the same way).
      this.target = null
      this.host.exhausted(error)
      this.reason = 'error'
      this.finish()
      this.client.reset()
      return
    }

    backend.failures++
    this.host.backendFailed(backend, error)
    if (!this.tryAnotherBackend(backend)) this.reject({cause: 'backends-failed', error})
  }

  onData(from: Endpoint, buffer: Buffer, length: number): boolean {
    // Not open: dropped with mode 'close', reading only to discard.
    if (this.state !== ConnectionState.Open) return true
    if (this.tracksIdle) this.lastActiveAt = Date.now()
    if (from === this.client) {
      this.bytesIn += length
      this.target!.bytesIn += length
      return this.upstream!.write(buffer, length)
    }

    this.bytesOut += length
    this.target!.bytesOut += length
    return this.client.write(buffer, length)
  }

  onDrain(endpoint: Endpoint): void {
    if (this.state !== ConnectionState.Open) return
    if (endpoint === this.client) this.upstream!.readStart()
    else this.client.readStart()
  }

  onEnd(from: Endpoint): void {
    if (this.state !== ConnectionState.Open) return
    if (from === this.client) this.upstream!.end()
    else this.client.end()
  }

  onClose(endpoint: Endpoint, error: string | null): void {
    if (endpoint === this.client) this.onClientClosed(error)
    else this.onUpstreamClosed(error)
  }

  /**
   * Its backend went away while the connection to it was still being made: the client has exchanged
   * nothing with it yet, so it is served by another ready backend, or waits for one like a new client.
   */
  reroute(): void {
    const backend = this.target!
    this.detachUpstream()
    backend.active--
    if (this.tryAnotherBackend(backend)) return
    this.state = ConnectionState.Queued
    this.host.requeue(this)
  }

  /** Connects to a ready backend this client has not tried yet (failover tries each at most once). */
  private tryAnotherBackend(failed: Backend): boolean {
    const tried = this.tried ?? (this.tried = [])
    tried.push(failed)
    const next = this.host.pick(tried)
    if (!next) {
      this.target = null
      return false
    }

    this.connect(next)
    return true
  }

  /** Give up on a client that was never connected to a backend: reset it. */
  reject(rejection: Rejection): void {
    this.host.rejected(rejection)
    this.reason = 'error'
    this.finish()
    this.client.reset()
  }

  /** Bytes forwarded so far either way while piped (the endpoints count them). */
  get pipedBytes(): {bytesIn: number; bytesOut: number} {
    return {bytesIn: this.client.bytesRead ?? 0, bytesOut: this.pipedUpstream?.bytesRead ?? 0}
  }

  /** Milliseconds since a byte last went either way. */
  idleMs(): number {
    if (!this.piped) return Date.now() - this.lastActiveAt
    return Math.min(this.client.idleMs!(), this.pipedUpstream!.idleMs!())
  }

  /** Ends the connection's accounting (once); the client socket may outlive it when dropped. */
  finish(): void {
    if (this.finished) return
    this.finished = true
    if (this.piped) this.countPipedBytes()
    if (this.target) this.target.active--
    this.host.finished(this)
  }

  /** Piped bytes were counted by the endpoints: the connection's and its backend's totals take them now. */
  private countPipedBytes(): void {
    const {bytesIn, bytesOut} = this.pipedBytes
    this.piped = false
    this.pipedUpstream = null
    this.bytesIn = bytesIn
    this.bytesOut = bytesOut
    this.target!.bytesIn += this.bytesIn
    this.target!.bytesOut += this.bytesOut
  }

  /** Both sides closed (a side never connected counts as closed). */
  private maybeFinish(): void {
    if (this.client.closed && (this.upstream === null || this.upstream.closed)) this.finish()
  }

  private onClientClosed(error: string | null): void {
    if (error !== null) this.reason ??= isResetError(error) ? 'client-reset' : 'error'
    switch (this.state) {
      case ConnectionState.Queued: {
        this.host.release(this)
        break
      }

      case ConnectionState.Connecting: {
        this.detachUpstream()
        break
      }

      case ConnectionState.Open: {
        const upstream = this.upstream!
        if (error === null) upstream.end()
        else upstream.reset()
        break
      }

      case ConnectionState.Dropped: {
        this.host.release(this)
        return
      }
    }

    this.maybeFinish()
  }

  private onUpstreamClosed(error: string | null): void {
    if (error !== null) this.reason ??= isResetError(error) ? 'backend-reset' : 'error'
    if (this.state === ConnectionState.Open) {
      if (error === null) this.client.end()
      else this.client.reset()
    }

    this.maybeFinish()
  }

  /** Ends the connection the way the platform would; see DropMode. Returns false when already gone. */
  drop(mode: DropMode): boolean {
    if (this.finished) return false
    if (this.state === ConnectionState.Queued) this.host.release(this)
    this.detachUpstream()
    this.state = ConnectionState.Dropped
    this.reason = 'dropped'
    this.finish()
    const {client} = this
    if (client.closed) return true
    switch (mode) {
      case 'reset': {
        client.reset()
        break
      }

      case 'close': {
        // Keep reading (and discarding: see onData) so that unread bytes do not turn our FIN into a RST.
        client.readStart()
        client.finish()
        this.host.hold(this)
        break
      }

      case 'blackhole': {
        // Send nothing at all: no FIN, no RST, and stop reading so the client's writes go nowhere.
        client.readStop()
        this.host.hold(this)
        break
      }
    }

    return true
  }

  /** Closes both sides after --idle-timeout: nothing is in flight (that is what idle means), so both get a FIN. */
  idleOut(): void {
    this.reason = 'idle-timeout'
    this.upstream?.close()
    this.client.close()
    this.finish()
  }

  /** A dropped connection's hold ran out: its client socket gets a reset. */
  expireHold(): void {
    this.client.reset()
  }

  /** Shutdown: close both sockets now (a dropped connection's held client socket too). */
  destroy(): void {
    this.reason ??= 'closed'
    this.detachUpstream()
    this.finish()
    this.client.handler = null
    this.client.close()
  }

  private detachUpstream(): void {
    const {upstream} = this
    if (!upstream) return
    this.host.connectEnded(this)
    upstream.handler = null
    upstream.close()
    this.upstream = null
  }
}
