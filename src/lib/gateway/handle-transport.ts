import {isIP} from 'node:net'

import {EndpointBase, Shutdown} from './endpoint-base.js'
import {errorCode, resolveHost, systemError} from './system.js'
import {
  type Endpoint, type EndpointHandler, formatAddress, type Listener, type ListenOptions, type Transport,
} from './transport.js'

/*
 * The gateway's fast path: Node's TCP handles (libuv uv_tcp_t, the `_handle` inside every net.Socket) driven
 * directly, as net.js itself drives them. Per connection this skips two Duplex streams, their event
 * emitters, nextTick-deferred events and a handle close callback each; per read it is one call into
 * JavaScript and, most of the time, one synchronous write.
 *
 * These bindings are Node internals (reached through process.binding, which allows exactly these modules).
 * loadBindings() checks every member this file uses and returns null when one is missing, and the gateway
 * then uses the net.Socket transport instead.
 */

interface TcpHandle {
  onread: ((this: TcpHandle) => void) | null
  onconnection: ((this: TcpHandle, status: number, client?: TcpHandle) => void) | null
  readStart(): number
  readStop(): number
  useUserBuffer(buffer: Uint8Array): void
  writeBuffer(request: WriteRequest, buffer: Uint8Array): number
  shutdown(request: ShutdownRequest): number
  close(): void
  reset(): number
  setNoDelay(enable: boolean): number
  getpeername(out: {address?: string; port?: number}): number
  getsockname(out: {address?: string; port?: number}): number
  connect(request: ConnectRequest, address: string, port: number): number
  connect6(request: ConnectRequest, address: string, port: number): number
  bind(address: string, port: number): number
  bind6(address: string, port: number, flags: number): number
  listen(backlog: number): number
  [ENDPOINT]?: HandleEndpoint
}

interface WriteRequest {
  handle: TcpHandle
  oncomplete: (this: WriteRequest, status: number) => void
  endpoint?: HandleEndpoint
  buffer?: Buffer | null
  length?: number
}

interface ShutdownRequest {
  handle: TcpHandle
  oncomplete: (this: ShutdownRequest, status: number) => void
  endpoint?: HandleEndpoint
}

interface ConnectRequest {
  oncomplete: (this: ConnectRequest, status: number) => void
  address?: string
  port?: number
  endpoint?: HandleEndpoint
}

interface Bindings {
  TCP: new (type: number) => TcpHandle
  TCPConnectWrap: new () => ConnectRequest
  WriteWrap: new () => WriteRequest
  ShutdownWrap: new () => ShutdownRequest
  SOCKET: number
  SERVER: number
  state: Int32Array
  READ_BYTES_OR_ERROR: number
  LAST_WRITE_WAS_ASYNC: number
}

const ENDPOINT = Symbol('gatewayEndpoint')
/** First read buffer of a socket: small, so that 1,000 idle connections (2 sockets each) cost ~4 MB, not 128. */
const FIRST_READ_BYTES = 2048
/** Once a read fills its buffer (bulk transfer), read as much at a time as Node does by default. */
const BULK_READ_BYTES = 64 * 1024

let bindings: Bindings | null | undefined

export function loadBindings(): Bindings | null {
  if (bindings !== undefined) return bindings
  bindings = null
  try {
    const binding = (process as unknown as {binding(name: string): Record<string, unknown>}).binding
    const tcp = binding('tcp_wrap') as {TCP?: Bindings['TCP']; TCPConnectWrap?: unknown; constants?: {SOCKET?: number; SERVER?: number}}
    const stream = binding('stream_wrap') as Record<string, unknown>
    const proto = tcp.TCP?.prototype as Partial<Record<keyof TcpHandle, unknown>> | undefined
    const methods: Array<keyof TcpHandle> = [
      'readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'shutdown', 'close', 'reset', 'setNoDelay',
      'getpeername', 'getsockname', 'connect', 'connect6', 'bind', 'bind6', 'listen',
    ]
    if (!proto || methods.some(method => typeof proto[method] !== 'function')) return null
    if (typeof tcp.TCPConnectWrap !== 'function' || typeof stream.WriteWrap !== 'function') return null
    if (typeof stream.ShutdownWrap !== 'function' || !(stream.streamBaseState instanceof Int32Array)) return null
    if (typeof stream.kReadBytesOrError !== 'number' || typeof stream.kLastWriteWasAsync !== 'number') return null
    if (typeof tcp.constants?.SOCKET !== 'number' || typeof tcp.constants.SERVER !== 'number') return null
    bindings = {
      TCP: tcp.TCP!,
      TCPConnectWrap: tcp.TCPConnectWrap as Bindings['TCPConnectWrap'],
      WriteWrap: stream.WriteWrap as Bindings['WriteWrap'],
      ShutdownWrap: stream.ShutdownWrap as Bindings['ShutdownWrap'],
      SOCKET: tcp.constants.SOCKET,
      SERVER: tcp.constants.SERVER,
      state: stream.streamBaseState,
      READ_BYTES_OR_ERROR: stream.kReadBytesOrError,
      LAST_WRITE_WAS_ASYNC: stream.kLastWriteWasAsync,
    }
  } catch {
    bindings = null
  }

  return bindings
}

/** The transport on Node's TCP handles, or null when this Node's internals are not the expected ones. */
export function handleTransport(): Transport | null {
  const loaded = loadBindings()
  if (!loaded) return null
  return {
    name: 'handles',
    listen: options => listen(loaded, options),
    connect(address, port, handler) {
      const endpoint = new HandleEndpoint(loaded, new loaded.TCP(loaded.SOCKET))
      endpoint.handler = handler
      endpoint.connect(address, port)
      return endpoint
    },
  }
}

/** A write request whose last write completed synchronously: nothing in C++ is bound to it, so it is reused. */
let spareWriteRequest: WriteRequest | null = null

class HandleEndpoint extends EndpointBase {
  pendingBytes = 0
  private buffer: Buffer | null = null
  private reading = false
  private pendingWrites = 0

  constructor(private readonly bindings: Bindings, readonly handle: TcpHandle) {
    super()
    handle[ENDPOINT] = this
    handle.onread = onHandleRead
  }

  protected connectTo(address: string, port: number): void {
    const request = new this.bindings.TCPConnectWrap()
    request.oncomplete = onConnectComplete
    request.address = address
    request.port = port
    request.endpoint = this
    const status = isIP(address) === 6
      ? this.handle.connect6(request, address, port)
      : this.handle.connect(request, address, port)
    // Failures reported synchronously (EMFILE...) still reach the handler later, as the contract says.
    if (status !== 0) {
      process.nextTick(connectFailedLater, this, errorCode(status))
      return
    }

    // Reading is asked for now, while libuv watches the socket for the connect: it then keeps the one
    // epoll registration for reading instead of dropping it and adding it again (two epoll_ctl calls per
    // connection). libuv reports the connect before any read, so nothing is read before onConnect.
    this.readStart()
  }

  connected(): void {
    this.handle.setNoDelay(true)
    this.handler?.onConnect(this)
  }

  readStart(): void {
    if (this.reading || this.closed || this.ended) return
    if (this.buffer === null) {
      this.buffer = Buffer.allocUnsafe(FIRST_READ_BYTES)
      this.handle.useUserBuffer(this.buffer)
    }

    this.reading = true
    const status = this.handle.readStart()
    if (status !== 0) this.fail(errorCode(status))
  }

  readStop(): void {
    if (!this.reading) return
    this.reading = false
    if (!this.closed) this.handle.readStop()
  }

  /** From onHandleRead, the hot path. */
  received(length: number): void {
    const buffer = this.buffer!
    const handler = this.handler
    if (handler === null) return
    if (!handler.onData(this, buffer, length)) {
      // A queued write holds this buffer: stop, and read into a new one when resumed.
      this.buffer = null
      this.readStop()
    } else if (length === buffer.length && length < BULK_READ_BYTES && !this.closed) {
      this.buffer = Buffer.allocUnsafe(BULK_READ_BYTES)
      this.handle.useUserBuffer(this.buffer)
    }
  }

  readFailed(status: number): void {
    this.reading = false
    const code = errorCode(status)
    if (code !== 'EOF') {
      this.fail(code)
      return
    }

    this.readEnded()
  }

  write(buffer: Buffer, length: number): boolean {
    if (this.closed) return true
    const {bindings} = this
    const request = spareWriteRequest ?? new bindings.WriteWrap()
    spareWriteRequest = null
    request.handle = this.handle
    request.oncomplete = onWriteComplete
    const status = this.handle.writeBuffer(request, length === buffer.length ? buffer : buffer.subarray(0, length))
    if (status !== 0) {
      spareWriteRequest = request
      this.fail(errorCode(status))
      return true
    }

    if (bindings.state[bindings.LAST_WRITE_WAS_ASYNC] === 0) {
      spareWriteRequest = request
      return true
    }

    request.endpoint = this
    request.buffer = buffer
    request.length = length
    this.pendingWrites++
    this.pendingBytes += length
    return false
  }

  writeDone(request: WriteRequest, status: number): void {
    this.pendingWrites--
    this.pendingBytes -= request.length!
    request.buffer = null
    if (this.closed) return
    if (status < 0) {
      this.fail(errorCode(status))
      return
    }

    if (this.pendingWrites > 0) return
    if (this.shutdownState === Shutdown.AfterWrites) this.shutdown()
    this.handler?.onDrain(this)
  }

  end(): void {
    if (this.closed || this.shutdownState !== Shutdown.None) return
    // The peer is done too and nothing waits: close() sends the same FIN and saves a shutdown round trip.
    if (this.ended && this.pendingWrites === 0) {
      this.closeItself()
      return
    }

    if (this.pendingWrites > 0) this.shutdownState = Shutdown.AfterWrites
    else this.shutdown()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.reading = false
    this.handle.close()
  }

  reset(): void {
    if (this.closed) return
    this.closed = true
    this.reading = false
    // reset() needs a connected socket (SO_LINGER 0 then close); anything else just closes.
    if (this.handle.reset() !== 0) this.handle.close()
  }

  remoteAddress(): string {
    const out: {address?: string; port?: number} = {}
    this.handle.getpeername(out)
    return formatAddress(out.address, out.port)
  }

  private shutdown(): void {
    this.shutdownState = Shutdown.Sent
    const request = new this.bindings.ShutdownWrap()
    request.handle = this.handle
    request.oncomplete = onShutdownComplete
    request.endpoint = this
    const status = this.handle.shutdown(request)
    if (status !== 0) this.fail(errorCode(status))
  }

}

function onHandleRead(this: TcpHandle): void {
  const nread = bindings!.state[bindings!.READ_BYTES_OR_ERROR]
  if (nread > 0) this[ENDPOINT]!.received(nread)
  else if (nread < 0) this[ENDPOINT]!.readFailed(nread)
}

function onWriteComplete(this: WriteRequest, status: number): void {
  this.endpoint!.writeDone(this, status)
}

function onShutdownComplete(this: ShutdownRequest, status: number): void {
  this.endpoint!.shutdownDone(status)
}

function onConnectComplete(this: ConnectRequest, status: number): void {
  const endpoint = this.endpoint!
  if (endpoint.closed) return
  if (status === 0) endpoint.connected()
  else endpoint.connectFailed(errorCode(status))
}

function connectFailedLater(endpoint: HandleEndpoint, code: string): void {
  endpoint.connectFailed(code)
}

async function listen(loaded: Bindings, options: ListenOptions): Promise<Listener> {
  const address = isIP(options.host) === 0 ? await resolveHost(options.host) : options.host
  const server = new loaded.TCP(loaded.SERVER)
  let status = isIP(address) === 6 ? server.bind6(address, options.port, 0) : server.bind(address, options.port)
  if (status === 0) status = server.listen(options.backlog)
  if (status !== 0) {
    server.close()
    const code = errorCode(status)
    throw systemError(code, `listen ${code} ${address}:${options.port}`)
  }

  const {onAccept, onAcceptError} = options
  server.onconnection = (status, client) => {
    if (status !== 0 || !client) {
      onAcceptError(errorCode(status))
      return
    }

    client.setNoDelay(true)
    onAccept(new HandleEndpoint(loaded, client))
  }

  const bound: {address?: string; port?: number} = {}
  server.getsockname(bound)
  return {host: bound.address ?? address, port: bound.port ?? options.port, close: () => server.close()}
}
