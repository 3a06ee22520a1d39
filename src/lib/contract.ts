/**
 * The contract between a running `tcp:proxy` and everything that talks to it: the `--local` commands, the control
 * interface, the status page, the `--json` events and the state file. Types and the few constants they need, and
 * no import: both sides depend on this module, never on each other's internals (docs/architecture.md).
 */

// ---- status: GET /v1/status, the status page's `status` samples, the `s` key's table

export type InstanceState = 'booting' | 'ready' | 'draining' | 'crashed' | 'stopped' | 'failed'

export interface InstanceStatus {
  name: string
  type: string
  generation: number
  state: InstanceState
  pid?: number
  port?: number
  uptimeMs: number
  active: number
  total: number
  bytesIn: number
  bytesOut: number
  restarts: number
}

/** What a running tcp:proxy reports about itself. */
export interface LocalStatus {
  app: string
  tcpUrl: string
  restarting: boolean
  instances: InstanceStatus[]
  connections: {active: number; total: number}
}

// ---- restarts: what a rolling restart did, and the operation that follows one through the control interface

export interface RestartReport {
  /** The generation the restarted instances now run. */
  generation: number
  durationMs: number
  /** Instances (`tcp-1`...) whose new generation took over and whose old one is gone. */
  restarted: string[]
  /** Instances whose new generation never became ready: their old generation keeps serving. */
  failed: string[]
}

export type LocalOperationStatus = 'pending' | 'running' | 'done' | 'error'

/** Shaped like the Scalingo API's operations, so the code that follows a platform restart follows this one too. */
export interface LocalOperation {
  id: string
  type: 'restart'
  status: LocalOperationStatus
  created_at: string
  finished_at: string | null
  error?: string
  /** What the rolling restart did, once it is over. */
  report?: RestartReport
}

// ---- events: one NDJSON line each on stdout with --json, log lines otherwise, and the status page's stream

/** The data path's implementation, as `gateway-listening` names it. */
export type TransportName = 'native' | 'streams'

/** Everything the local app reports. */
export type ProxyEvent =
  | {event: 'leftovers-stopping'; gatewayPid: number; pids: number[]; graceMs: number}
  | {
      event: 'gateway-listening'
      host: string
      port: number
      tcpUrl: string
      transport: TransportName
      transportFallback?: string
    }
  | {event: 'instance-starting'; instance: string; type: string; generation: number; pid: number; port?: number}
  | {event: 'instance-ready'; instance: string; generation: number; port: number; bootMs: number}
  | {event: 'instance-boot-failed'; instance: string; generation: number; reason: string; lastLines: string[]}
  | {
      event: 'instance-exited'
      instance: string
      generation: number
      pid: number
      code: number | null
      signal: string | null
      expected: boolean
    }
  | {event: 'instance-restarting'; instance: string; generation: number; inMs: number; crashes: number}
  | {event: 'instance-gave-up'; instance: string; crashes: number}
  | {event: 'connections-dropped'; instance: string; generation: number; count: number; mode: string}
  | {event: 'upstream-ready'; instance: string; host: string; port: number}
  | {event: 'output'; instance: string; stream: 'stdout' | 'stderr'; line: string}
  | {event: 'shutdown'; reason: string}
  | {event: 'stopped'}
  | {event: 'connection-opened'; id: number; instance: string; generation: number; client: string}
  | {
      event: 'connection-closed'
      id: number
      instance: string
      generation: number
      bytesIn: number
      bytesOut: number
      durationMs: number
      reason: string
    }
  | {event: 'backend-connect-failed'; instance: string; generation: number; error: string}
  | {event: 'client-queued'; waiting: number}
  | {event: 'client-rejected'; reason: string}
  | {event: 'accept-error'; error: string}
  | {event: 'restart-started'; generation: number; reason: string; instances: string[]; files?: string[]}
  | {
      event: 'restart-retrying'
      instance: string
      generation: number
      attempt: number
      attempts: number
      inMs: number
      reason: string
    }
  | {event: 'restart-switched'; instance: string; from: number | null; to: number; port: number; switchMs: number}
  | {
      event: 'restart-completed'
      generation: number
      reason: string
      durationMs: number
      restarted: string[]
      failed: string[]
    }
  | {event: 'instance-stopping'; instance: string; generation: number; pid: number; graceMs: number}
  | {event: 'chaos-restart'; instance: string; generation: number}

/** What tcp:proxy's output itself adds with --json: where the control interface listens, stdout falling behind. */
export type OutputEvent =
  | {event: 'control-listening'; url: string}
  /** The one place the control token is shown: the user needs it to open the page. */
  | {event: 'status-page'; url: string}
  | {event: 'output-dropped'; lines: number}

/** A `--json` line: one of these plus `time` (ISO 8601) first. */
export type JsonEvent = ProxyEvent | OutputEvent

// ---- the state file, next to the Procfile while tcp:proxy runs: how the --local commands find the gateway

export const STATE_FILE_NAME = '.scalingo-tcp.json'

/** A process group of a live instance, as the state file records it for the reaping after a killed gateway. */
export interface GroupRecord {
  pgid: number
  /** Linux: the group leader's start time, which tells it from a later process reusing its pid. */
  startTime?: string
}

export interface GatewayState {
  pid: number
  /** The control interface, without the token. */
  url: string
  token: string
  tcpUrl: string
  app: string
  startedAt: string
  /** The scalingo-tcp version that wrote the file. */
  version: string
  /** Linux: the gateway's start time (/proc/PID/stat), which tells it from a later process reusing its pid. */
  startTime?: string
  /** The value every instance's SCALINGO_TCP_PROXY_INSTANCE starts with (`<marker>:`). */
  marker?: string
  /** The process groups of its live instances. */
  groups?: GroupRecord[]
}

/** What the file holds from the moment the gateway claims the directory; url, token and tcpUrl come once it listens. */
export type ClaimState = Omit<GatewayState, 'url' | 'token' | 'tcpUrl' | 'version'> &
  Partial<Pick<GatewayState, 'url' | 'token' | 'tcpUrl' | 'version'>>
