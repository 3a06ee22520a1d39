import {hostPort} from '../host-port.js'

/**
 * What the gateway's data path needs from a TCP socket, and nothing more. Two implementations:
 * `native-transport.ts` relays in C (native/relay.c, an N-API addon built at install time when a compiler is
 * there), `stream-transport.ts` uses net.Socket (always there). Importing any of these modules has no side
 * effect: the native addon is loaded by the gateway's choice of it (nativeTransport()), and only then.
 */

/** The connection an endpoint reports to. Every callback runs on the event loop, never concurrently. */
export interface EndpointHandler {
  /**
   * Bytes arrived in `buffer[0, length)`. Return false when a queued write now holds on to `buffer`: the
   * endpoint stops reading and reads into a fresh buffer once readStart() is called again (after onDrain).
   */
  onData(endpoint: Endpoint, buffer: Buffer, length: number): boolean
  /** The peer sent its FIN: no more data will come. */
  onEnd(endpoint: Endpoint): void
  /** Every queued write went out. */
  onDrain(endpoint: Endpoint): void
  /**
   * The socket closed by itself: both directions done, or an error (a reset, a failed write) named by its
   * code. Not called for the owner's own close() or reset().
   */
  onClose(endpoint: Endpoint, error: string | null): void
  onConnect(endpoint: Endpoint): void
  /** A connect() attempt failed; the endpoint is closed and reports nothing else. */
  onConnectFailed(endpoint: Endpoint, error: string): void
}

export interface Endpoint {
  /** Null once the owner detached it: it then reports nothing. */
  handler: EndpointHandler | null
  readonly closed: boolean
  /** Bytes held for this socket right now (writes not yet taken by the kernel). */
  readonly pendingBytes: number
  readStart(): void
  readStop(): void
  /** Writes `buffer[0, length)`; false when queued (onDrain follows), which is the cue to stop reading the source. */
  write(buffer: Buffer, length: number): boolean
  /** Sends a FIN once queued writes are out; reading goes on (half-close). */
  end(): void
  /** end(), then close the socket as soon as the FIN is sent, whatever the peer does. */
  finish(): void
  /** Closes now: a FIN, or a reset when unread data is left (the kernel decides). */
  close(): void
  /** Closes with a RST. */
  reset(): void
  /** "ip:port" or "[ipv6]:port" of the peer. */
  remoteAddress(): string
  /**
   * Optional (a transport that can relay by itself): from now on, bytes read by either endpoint are written
   * to the other inside the transport, with back-pressure, and neither onData, onDrain nor onEnd is called:
   * a FIN is passed on by the transport, which closes both sockets once both sides sent theirs and then
   * reports onClose(null) for each (both already closed when the first is reported). Errors are still
   * reported as onClose(error), and end(), close(), reset() still act on each side; the pipe ends when
   * either side closes. What this endpoint (the client) sent already may be passed on before pipe()
   * returns, and a failure doing so reported from within it. `peer` comes from the same transport.
   */
  pipe?(peer: Endpoint): void
  /** With pipe(): bytes this endpoint has read so far (still readable once closed). */
  readonly bytesRead?: number
  /** With pipe(): milliseconds since this endpoint last read or wrote a byte. */
  idleMs?(): number
}

export interface Listener {
  readonly host: string
  readonly port: number
  /** Stops accepting; accepted sockets carry on. */
  close(): void
}

export interface ListenOptions {
  host: string
  port: number
  backlog: number
  onAccept(endpoint: Endpoint): void
  /** accept() failed (EMFILE, ENFILE...): the listener keeps listening. */
  onAcceptError(code: string): void
}

export interface Transport {
  readonly name: GatewayIo
  /** Rejects with an Error carrying the system error `code` (EADDRINUSE...). */
  listen(options: ListenOptions): Promise<Listener>
  /** Starts connecting; the outcome comes as onConnect or onConnectFailed, never synchronously. */
  connect(address: string, port: number, handler: EndpointHandler): Endpoint
}

export type GatewayIo = 'native' | 'streams'
/** Every transport the gateway knows (whether this installation has the native one is up to loadTransport()). */
export const GATEWAY_IO_MODES: readonly GatewayIo[] = ['native', 'streams']

export function formatAddress(address: string | undefined, port: number | undefined): string {
  return address === undefined ? 'unknown' : hostPort(address, port ?? '')
}

export function isResetError(code: string): boolean {
  return code === 'ECONNRESET' || code === 'EPIPE'
}
