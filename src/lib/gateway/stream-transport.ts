import {type AddressInfo, connect, createServer, type Socket} from 'node:net'

import {
  type Endpoint,
  type EndpointHandler,
  formatAddress,
  type Listener,
  type ListenOptions,
  type Transport,
} from './transport.js'

/**
 * The gateway's transport on net.Socket: slower than the native relay (two Duplex streams per connection, every
 * byte through JavaScript), but it needs no compiler. Used when the native addon was not built or does not load,
 * or when SCALINGO_TCP_GATEWAY_IO=streams asks for it.
 */
export const streamTransport: Transport = {
  name: 'streams',
  listen,
  connect(address, port, handler) {
    const endpoint = new StreamEndpoint(connect({host: address, port, allowHalfOpen: true, noDelay: true}), true)
    endpoint.handler = handler
    return endpoint
  },
}

const ENDPOINT = Symbol('gatewayEndpoint')

interface TaggedSocket extends Socket {
  [ENDPOINT]?: StreamEndpoint
}

class StreamEndpoint implements Endpoint {
  handler: EndpointHandler | null = null
  closed = false
  connecting: boolean
  error: string | null = null
  /** Set by close() and reset(): the 'close' that follows is the owner's doing and is not reported. */
  closedByOwner = false

  constructor(
    readonly socket: TaggedSocket,
    connecting: boolean,
  ) {
    this.connecting = connecting
    socket[ENDPOINT] = this
    // Paused first: adding a 'data' listener would otherwise start reading before readStart().
    socket.pause()
    socket.on('data', onData).on('end', onEnd).on('drain', onDrain).on('error', onError).on('close', onClose)
    if (connecting) socket.once('connect', onConnect)
  }

  get pendingBytes(): number {
    return this.socket.writableLength + this.socket.readableLength
  }

  readStart(): void {
    if (!this.closed) this.socket.resume()
  }

  readStop(): void {
    this.socket.pause()
  }

  write(buffer: Buffer, length: number): boolean {
    if (this.closed) return true
    return this.socket.write(length === buffer.length ? buffer : buffer.subarray(0, length))
  }

  end(): void {
    if (!this.closed) this.socket.end()
  }

  finish(): void {
    if (this.closed) return
    if (this.socket.writableFinished) this.socket.destroy()
    else this.socket.end().once('finish', destroySelf)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.closedByOwner = true
    this.socket.destroy()
  }

  reset(): void {
    if (this.closed) return
    this.closed = true
    this.closedByOwner = true
    const {socket} = this
    // resetAndDestroy needs a connected handle.
    if (socket.connecting || socket.destroyed) socket.destroy()
    else socket.resetAndDestroy()
  }

  remoteAddress(): string {
    return formatAddress(this.socket.remoteAddress, this.socket.remotePort)
  }
}

function onData(this: TaggedSocket, chunk: Buffer): void {
  const endpoint = this[ENDPOINT]!
  // Chunks are never reused, so false only means "stop reading until the peer drains".
  if (endpoint.handler && !endpoint.handler.onData(endpoint, chunk, chunk.length)) this.pause()
}

function onEnd(this: TaggedSocket): void {
  const endpoint = this[ENDPOINT]!
  endpoint.handler?.onEnd(endpoint)
}

function onDrain(this: TaggedSocket): void {
  const endpoint = this[ENDPOINT]!
  endpoint.handler?.onDrain(endpoint)
}

function onConnect(this: TaggedSocket): void {
  const endpoint = this[ENDPOINT]!
  endpoint.connecting = false
  if (!endpoint.closed) endpoint.handler?.onConnect(endpoint)
}

function onError(this: TaggedSocket, error: NodeJS.ErrnoException): void {
  const endpoint = this[ENDPOINT]!
  const code = error.code ?? error.message
  if (!endpoint.connecting) {
    endpoint.error = code
    return
  }

  // A failed connect reports only that.
  endpoint.connecting = false
  if (endpoint.closed) return
  endpoint.closed = true
  endpoint.closedByOwner = true
  endpoint.handler?.onConnectFailed(endpoint, code)
}

function onClose(this: TaggedSocket, hadError: boolean): void {
  const endpoint = this[ENDPOINT]!
  if (endpoint.closedByOwner) return
  endpoint.closed = true
  endpoint.handler?.onClose(endpoint, hadError ? (endpoint.error ?? 'ERROR') : null)
}

function destroySelf(this: Socket): void {
  this.destroy()
}

function listen(options: ListenOptions): Promise<Listener> {
  // pauseOnConnect: not one client byte is read before its backend connection exists.
  const server = createServer({allowHalfOpen: true, pauseOnConnect: true, noDelay: true}, (socket) => {
    options.onAccept(new StreamEndpoint(socket, false))
  })
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening)
      reject(error)
    }

    const onListening = () => {
      server.off('error', onError)
      // After listening, errors come from accept() (EMFILE, ENFILE...): reported, the server keeps serving.
      server.on('error', (error: NodeJS.ErrnoException) => options.onAcceptError(error.code ?? error.message))
      const address = server.address() as AddressInfo
      resolve({host: address.address, port: address.port, close: () => server.close()})
    }

    server.once('error', onError)
    server.once('listening', onListening)
    server.listen({host: options.host, port: options.port, backlog: options.backlog})
  })
}
