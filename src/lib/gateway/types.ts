import type {GatewayIo} from './transport.js'

export type BalanceMode = 'round-robin' | 'least-conn'
export type DropMode = 'blackhole' | 'reset' | 'close'
export type BackendState = 'booting' | 'ready' | 'draining' | 'down'

export const BALANCE_MODES: readonly BalanceMode[] = ['round-robin', 'least-conn']
export const DROP_MODES: readonly DropMode[] = ['blackhole', 'reset', 'close']
/** What a crashed container's connections get on the platform: silence. */
export const DEFAULT_DROP_MODE: DropMode = 'blackhole'
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

/** Why a client was reset without ever reaching a backend; `reason` in the event says it in words. */
export type Rejection =
  /** maxConnections were open and maxConnectionsMode is 'refuse'. */
  | {cause: 'connection-limit'; limit: number}
  /** Queued for queueTimeoutMs behind maxConnections (`limit`) while backends were ready. */
  | {cause: 'no-free-slot'; limit: number; waitedMs: number}
  /** Queued for queueTimeoutMs and no backend became ready. */
  | {cause: 'no-ready-backend'; waitedMs: number}
  /** Every ready backend refused it or timed out; `error` is the last failure. */
  | {cause: 'backends-failed'; error: string}

/** A rejection in words, in the gateway's terms (the command layer may name its flags instead). */
export function describeRejection(rejection: Rejection): string {
  switch (rejection.cause) {
    case 'connection-limit':
      return `${rejection.limit} connections already open (the connection limit)`
    case 'no-free-slot':
      return `no connection slot freed up (limit ${rejection.limit}) within ${rejection.waitedMs} ms`
    case 'no-ready-backend':
      return `no backend became ready within ${rejection.waitedMs} ms`
    case 'backends-failed':
      return `no ready backend accepted the connection (last error: ${rejection.error})`
  }
}

/** What a Gateway emits: every event it has to tell is one 'event'. */
export type GatewayEvents = {event: [GatewayEvent]}

export type GatewayEvent =
  | {type: 'listening'; host: string; port: number}
  | {type: 'connection-opened'; id: number; backend: string; client: string}
  | {
      type: 'connection-closed'
      id: number
      backend: string
      bytesIn: number
      bytesOut: number
      durationMs: number
      reason: CloseReason
    }
  | {type: 'backend-connect-failed'; backend: string; error: string}
  | {type: 'client-queued'; waiting: number}
  | ({type: 'client-rejected'; reason: string} & Rejection)
  | {type: 'accept-error'; error: string}
