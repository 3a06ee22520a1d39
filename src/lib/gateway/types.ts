import type {GatewayIo} from './transport.js'

export type BalanceMode = 'round-robin' | 'least-conn'
export type DropMode = 'blackhole' | 'reset' | 'close'
export type BackendState = 'booting' | 'ready' | 'draining' | 'down'

export const BALANCE_MODES: readonly BalanceMode[] = ['round-robin', 'least-conn']
export const DROP_MODES: readonly DropMode[] = ['blackhole', 'reset', 'close']
/** What happens to a client beyond maxConnections: reset at once, or wait (queueTimeoutMs) for a free slot. */
export type MaxConnectionsMode = 'refuse' | 'queue'
export const MAX_CONNECTIONS_MODES: readonly MaxConnectionsMode[] = ['queue', 'refuse']

export interface BackendSpec {
  /** 'tcp-1#2' for a started instance, 'upstream-1' for a server the gateway does not start. */
  id: string
  host: string
  port: number
  generation: number
}

export interface BackendInfo extends BackendSpec {
  state: BackendState
  /** Connections assigned to it right now, including those still connecting. */
  active: number
  /** Connections it accepted since it was added. */
  total: number
  /** Bytes forwarded client -> backend. */
  bytesIn: number
  /** Bytes forwarded backend -> client. */
  bytesOut: number
  /** Connection attempts that were refused or timed out. */
  failures: number
}

export interface GatewayOptions {
  host: string
  port: number
  balance?: BalanceMode
  /** How long a client may wait for a ready backend before it is reset. */
  queueTimeoutMs?: number
  /** Per backend connect attempt. */
  connectTimeoutMs?: number
  /** When a black-holed (or closing) client socket is finally freed with a reset. */
  blackholeTimeoutMs?: number
  /** Connections connecting or open at once; 0 or unset: no limit. */
  maxConnections?: number
  maxConnectionsMode?: MaxConnectionsMode
  /** Closes a connection after this long without a byte in either direction; 0 or unset: never. */
  idleTimeoutMs?: number
  /**
   * Emit 'connection-opened' / 'connection-closed' events (default true). Off, a connection costs no event
   * objects, no peer address lookup and no listener calls: for when nobody logs connections.
   */
  connectionEvents?: boolean
  /**
   * The socket layer: the native relay (C, when its addon is built; else net.Socket) or net.Socket streams.
   * Unset: the SCALINGO_TCP_GATEWAY_IO environment variable, else the native relay when it loads.
   */
  io?: GatewayIo
}

export const GATEWAY_DEFAULTS = {
  balance: 'round-robin' as BalanceMode,
  queueTimeoutMs: 30_000,
  connectTimeoutMs: 5000,
  blackholeTimeoutMs: 120_000,
  maxConnections: 0,
  maxConnectionsMode: 'queue' as MaxConnectionsMode,
  idleTimeoutMs: 0,
  connectionEvents: true,
}

export type CloseReason = 'closed' | 'client-reset' | 'backend-reset' | 'dropped' | 'error' | 'idle-timeout'

export type GatewayEvent =
  | {type: 'listening'; host: string; port: number}
  | {type: 'connection-opened'; id: number; backend: string; client: string}
  | {type: 'connection-closed'; id: number; backend: string; bytesIn: number; bytesOut: number; durationMs: number;
     reason: CloseReason}
  | {type: 'backend-connect-failed'; backend: string; error: string}
  | {type: 'client-queued'; waiting: number}
  | {type: 'client-rejected'; reason: string}
  | {type: 'accept-error'; error: string}
