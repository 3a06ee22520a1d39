import {connect, Socket} from 'node:net'

import type {Backend} from './backend.js'
import type {Gateway} from './gateway.js'
import type {CloseReason, DropMode} from './types.js'

/*
 * One proxied client connection. The event handlers below are shared module-level functions that find
 * their Connection through a symbol on the socket: no closures are allocated per connection, and the hot
 * path ('data' -> write, pause/resume on back-pressure) stays a couple of property reads.
 *
 * The backend side reads with `onread` into a buffer the connection owns (no Buffer allocated per read,
 * no Readable push). A buffer handed to client.write() may still be referenced when the write is queued
 * or only partly done: then the next read gets a fresh buffer and the old one stays with the write.
 */

/** First read buffer of a socket: small, so that 1,000 idle connections (2 sockets each) cost ~4 MB, not 128. */
const FIRST_READ_BYTES = 2048
/** Once a read fills its buffer (bulk transfer), read as much at a time as Node does by default. */
const BULK_READ_BYTES = 64 * 1024

const CONNECTION = Symbol('gatewayConnection')

interface TaggedSocket extends Socket {
  [CONNECTION]?: Connection
}

export const ConnectionState = {Queued: 0, Connecting: 1, Open: 2, Dropped: 3} as const
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState]

export class Connection {
  readonly id: number
  readonly client: TaggedSocket
  readonly startedAt = Date.now()
  upstream: TaggedSocket | null = null
  target: Backend | null = null
  state: ConnectionState = ConnectionState.Queued
  bytesIn = 0
  bytesOut = 0
  reason: CloseReason | null = null
  opened = false
  finished = false
  /** Backends that refused this client already, so failover tries each at most once. */
  private tried: Backend[] | null = null
  private clientClosed = false
  private upstreamClosed = true
  /** Queue timeout while queued; release deadline once dropped (blackhole or close). */
  timer: NodeJS.Timeout | null = null
  /** While connecting: when the attempt counts as timed out (checked by the gateway's one sweep timer). */
  connectDeadline = 0

  constructor(private readonly gateway: Gateway, id: number, client: Socket) {
    this.id = id
    this.client = client as TaggedSocket
    this.client[CONNECTION] = this
    this.client.on('error', onClientError).on('close', onClientClose)
  }

  get clientAddress(): string {
    const address = this.client.remoteAddress ?? 'unknown'
    return address.includes(':') ? `[${address}]:${this.client.remotePort}` : `${address}:${this.client.remotePort}`
  }

  /** Bytes this connection holds in the gateway's memory right now (both sockets, both directions). */
  get bufferedBytes(): number {
    let bytes = this.client.writableLength + this.client.readableLength
    if (this.upstream) bytes += this.upstream.writableLength + this.upstream.readableLength
    return bytes
  }

  connect(backend: Backend): void {
    this.state = ConnectionState.Connecting
    this.target = backend
    backend.active++
    const upstream = connect({
      host: backend.address, port: backend.port, allowHalfOpen: true, noDelay: true,
      onread: {buffer: upstreamReadBuffer, callback: onUpstreamRead},
    }) as TaggedSocket
    upstream[CONNECTION] = this
    this.upstream = upstream
    this.upstreamClosed = false
    this.gateway.connectStarted(this)
    upstream.on('connect', onUpstreamConnect).on('error', onUpstreamError).on('close', onUpstreamClose)
  }

  onUpstreamConnected(): void {
    const upstream = this.upstream!
    const client = this.client
    this.gateway.connectEnded(this)
    this.state = ConnectionState.Open
    this.opened = true
    this.target!.total++
    // Flowing, so that 'end' is emitted (the data itself goes to onUpstreamRead).
    upstream.on('end', onUpstreamEnd).on('drain', onUpstreamDrain).resume()
    if (client.listenerCount('data') === 0 && !hasOnread(client)) client.on('data', onClientData)
    client.on('end', onClientEnd).on('drain', onClientDrain)
    // Every byte either way passes through the client socket (read or written), so its inactivity
    // timer is the connection's idle timer.
    const idleTimeoutMs = this.gateway.idleTimeoutMs
    if (idleTimeoutMs > 0) client.setTimeout(idleTimeoutMs, onClientIdle)
    // The client was paused since accept: what it sent meanwhile waits in the kernel and flows now.
    client.resume()
    this.gateway.connectionOpened(this)
  }

  connectFailed(error: string): void {
    const backend = this.target!
    this.detachUpstream()
    backend.active--
    if (error === 'EMFILE' || error === 'ENFILE') {
      // Out of descriptors here, not a failing backend: no failover (it would fail the same way).
      this.target = null
      this.gateway.resourceExhausted(error)
      this.reason = 'error'
      this.finish()
      resetSocket(this.client)
      return
    }

    backend.failures++
    this.gateway.backendConnectFailed(backend, error)
    if (!this.tryAnotherBackend(backend)) this.reject(`no ready backend accepted the connection (last error: ${error})`)
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
    this.gateway.requeue(this)
  }

  /** Connects to a ready backend this client has not tried yet (failover tries each at most once). */
  private tryAnotherBackend(failed: Backend): boolean {
    const tried = this.tried ?? (this.tried = [])
    tried.push(failed)
    const next = this.gateway.pick(tried)
    if (!next) {
      this.target = null
      return false
    }

    this.connect(next)
    return true
  }

  /** Give up on a client that was never connected to a backend: reset it. */
  reject(reason: string): void {
    this.gateway.clientRejected(reason)
    this.reason = 'error'
    this.finish()
    resetSocket(this.client)
  }

  /** Ends the connection's accounting (once); the sockets may outlive it when dropped. */
  finish(): void {
    if (this.finished) return
    this.finished = true
    if (this.target) this.target.active--
    this.gateway.connectionFinished(this)
  }

  maybeFinish(): void {
    if (this.clientClosed && this.upstreamClosed) this.finish()
  }

  onClientClosed(hadError: boolean): void {
    this.clientClosed = true
    switch (this.state) {
      case ConnectionState.Queued: {
        this.gateway.unqueue(this)
        break
      }

      case ConnectionState.Connecting: {
        this.detachUpstream()
        break
      }

      case ConnectionState.Open: {
        const upstream = this.upstream
        if (upstream && !upstream.destroyed) {
          if (hadError) resetSocket(upstream)
          else endSocket(upstream)
        }

        break
      }

      case ConnectionState.Dropped: {
        this.gateway.release(this)
        return
      }
    }

    this.maybeFinish()
  }

  onUpstreamClosed(hadError: boolean): void {
    this.upstreamClosed = true
    if (this.state === ConnectionState.Open && !this.client.destroyed) {
      if (hadError) resetSocket(this.client)
      else endSocket(this.client)
    }

    this.maybeFinish()
  }

  /** Ends the connection the way the platform would; see DropMode. Returns false when already gone. */
  drop(mode: DropMode): boolean {
    if (this.finished) return false
    if (this.state === ConnectionState.Queued) this.gateway.unqueue(this)
    this.detachUpstream()
    const client = this.client
    client.off('data', onClientData).off('end', onClientEnd).off('drain', onClientDrain)
    this.state = ConnectionState.Dropped
    this.reason = 'dropped'
    this.finish()
    if (this.clientClosed || client.destroyed) return true
    switch (mode) {
      case 'reset': {
        resetSocket(client)
        break
      }

      case 'close': {
        // Keep reading (and discarding) so that unread bytes do not turn our FIN into a RST.
        client.on('data', discard)
        client.resume()
        if (client.writableFinished) client.destroy()
        else client.end().once('finish', destroySelf)
        this.gateway.hold(this)
        break
      }

      case 'blackhole': {
        // Send nothing at all: no FIN, no RST, and stop reading so the client's writes go nowhere.
        client.pause()
        this.gateway.hold(this)
        break
      }
    }

    return true
  }

  /** Shutdown: destroy both sockets now. */
  destroy(): void {
    this.reason ??= 'closed'
    this.detachUpstream()
    this.finish()
    this.client[CONNECTION] = undefined
    this.client.destroy()
  }

  private detachUpstream(): void {
    const upstream = this.upstream
    if (!upstream) return
    this.gateway.connectEnded(this)
    upstream[CONNECTION] = undefined
    upstream.destroy()
    this.upstream = null
    this.upstreamClosed = true
  }
}

function isResetError(error: NodeJS.ErrnoException): boolean {
  return error.code === 'ECONNRESET' || error.code === 'EPIPE'
}

/** RST when a connection exists, a plain destroy otherwise (resetAndDestroy needs a connected handle). */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return
  if (socket.connecting) socket.destroy()
  else socket.resetAndDestroy()
}

/**
 * Sends a FIN. When the peer has already sent its own and nothing waits to be written, close() sends the
 * same FIN as shutdown() would, and saves a syscall and the stream's end/finish round.
 */
function endSocket(socket: Socket): void {
  if (socket.readableEnded && socket.writableLength === 0 && !socket.connecting) socket.destroy()
  else socket.end()
}

function discard(): void {}

/**
 * The buffer a backend socket reads into next. Node calls this (without a `this`) once when the socket is
 * created and right after every onUpstreamRead, which leaves its choice in `nextReadBuffer`.
 */
let nextReadBuffer: Buffer | null = null

function upstreamReadBuffer(): Buffer {
  const buffer = nextReadBuffer ?? Buffer.allocUnsafe(FIRST_READ_BYTES)
  nextReadBuffer = null
  return buffer
}

function onUpstreamRead(this: TaggedSocket, length: number, buffer: Uint8Array): boolean {
  const connection = this[CONNECTION]
  if (connection?.state !== ConnectionState.Open) {
    nextReadBuffer = buffer as Buffer
    return true
  }

  connection.bytesOut += length
  connection.target!.bytesOut += length
  // false stops reading until the client drains (onClientDrain resumes it).
  return forward(connection.client, length, buffer as Buffer)
}

/** Client reads when the accepted socket could be re-wrapped with onread (see readWithOnread). */
function onClientRead(this: TaggedSocket, length: number, buffer: Uint8Array): boolean {
  const connection = this[CONNECTION]
  // Not open: dropped with mode 'close' (reading only to discard) or gone.
  if (connection?.state !== ConnectionState.Open || !connection.upstream) {
    nextReadBuffer = buffer as Buffer
    return true
  }

  connection.bytesIn += length
  connection.target!.bytesIn += length
  return forward(connection.upstream, length, buffer as Buffer)
}

function forward(to: Socket, length: number, buffer: Buffer): boolean {
  const flowing = to.write(buffer.subarray(0, length))
  if (length === buffer.length && length < BULK_READ_BYTES) {
    nextReadBuffer = Buffer.allocUnsafe(BULK_READ_BYTES)
  } else if (to.writableLength !== 0) {
    // The write holds on to this buffer until it is done: read the next bytes elsewhere.
    nextReadBuffer = Buffer.allocUnsafe(buffer.length)
  } else nextReadBuffer = buffer
  return flowing
}

const ONREAD = Symbol('gatewayOnread')

function hasOnread(socket: TaggedSocket & {[ONREAD]?: boolean}): boolean {
  return socket[ONREAD] === true
}

interface HandleSocket extends Socket {
  _handle?: object | null
}

/**
 * net.Server has no `onread` option: this moves an accepted (still paused) socket's handle into a new
 * Socket that reads with onread, like the backend side. The handle is the undocumented `_handle`; when it
 * is not there (another Node), the accepted socket is used as it is, with 'data' events.
 */
export function readWithOnread(accepted: Socket): Socket {
  const handle = (accepted as HandleSocket)._handle
  if (!handle || typeof handle !== 'object') return accepted
  ;(accepted as HandleSocket)._handle = null
  // Handle-less now: this only ends the old wrapper (and the server's count of it).
  accepted.destroy()
  const socket = new Socket({
    handle, allowHalfOpen: true, readable: true, writable: true, pauseOnCreate: true,
    onread: {buffer: upstreamReadBuffer, callback: onClientRead},
  } as ConstructorParameters<typeof Socket>[0]) as Socket & {[ONREAD]?: boolean}
  socket[ONREAD] = true
  return socket
}

function destroySelf(this: Socket): void {
  this.destroy()
}

function onClientData(this: TaggedSocket, chunk: Buffer): void {
  const connection = this[CONNECTION]!
  connection.bytesIn += chunk.length
  connection.target!.bytesIn += chunk.length
  if (!connection.upstream!.write(chunk)) this.pause()
}

function onClientDrain(this: TaggedSocket): void {
  this[CONNECTION]?.upstream?.resume()
}

function onUpstreamDrain(this: TaggedSocket): void {
  const connection = this[CONNECTION]
  if (connection?.state === ConnectionState.Open) connection.client.resume()
}

function onClientEnd(this: TaggedSocket): void {
  const upstream = this[CONNECTION]?.upstream
  if (upstream) endSocket(upstream)
}

function onUpstreamEnd(this: TaggedSocket): void {
  const connection = this[CONNECTION]
  if (connection?.state === ConnectionState.Open) endSocket(connection.client)
}

function onClientError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  const connection = this[CONNECTION]
  if (!connection || connection.state === ConnectionState.Dropped) return
  connection.reason ??= isResetError(error) ? 'client-reset' : 'error'
  const upstream = connection.upstream
  if (upstream) resetSocket(upstream)
}

function onClientClose(this: TaggedSocket, hadError: boolean): void {
  this[CONNECTION]?.onClientClosed(hadError)
}

function onUpstreamConnect(this: TaggedSocket): void {
  this[CONNECTION]?.onUpstreamConnected()
}

function onUpstreamError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  const connection = this[CONNECTION]
  if (!connection) return
  if (connection.state === ConnectionState.Connecting) {
    connection.connectFailed(error.code ?? error.message)
    return
  }

  connection.reason ??= isResetError(error) ? 'backend-reset' : 'error'
  resetSocket(connection.client)
}

function onClientIdle(this: TaggedSocket): void {
  const connection = this[CONNECTION]
  if (connection?.state !== ConnectionState.Open) return
  connection.reason = 'idle-timeout'
  // Nothing is in flight (that is what idle means), so a plain close sends both peers a FIN.
  connection.upstream?.destroy()
  this.destroy()
}

function onUpstreamClose(this: TaggedSocket, hadError: boolean): void {
  this[CONNECTION]?.onUpstreamClosed(hadError)
}
