import type {GatewayIo} from '../gateway/index.js'

/**
 * Everything tcp:proxy reports. With --json each is one NDJSON line on stdout (the interface tests
 * and scripts use); otherwise the command renders them as prefixed log lines.
 */
export type ProxyEvent =
  | {event: 'leftovers-stopping'; gatewayPid: number; pids: number[]; graceMs: number}
  | {event: 'gateway-listening'; host: string; port: number; tcpUrl: string; transport: GatewayIo; transportFallback?: string}
  | {event: 'instance-starting'; instance: string; type: string; generation: number; pid: number; port?: number}
  | {event: 'instance-ready'; instance: string; generation: number; port: number; bootMs: number}
  | {event: 'instance-boot-failed'; instance: string; generation: number; reason: string; lastLines: string[]}
  | {event: 'instance-exited'; instance: string; generation: number; pid: number; code: number | null; signal: string | null; expected: boolean}
  | {event: 'instance-restarting'; instance: string; generation: number; inMs: number; crashes: number}
  | {event: 'instance-gave-up'; instance: string; crashes: number}
  | {event: 'connections-dropped'; instance: string; generation: number; count: number; mode: string}
  | {event: 'upstream-ready'; instance: string; host: string; port: number}
  | {event: 'output'; instance: string; stream: 'stdout' | 'stderr'; line: string}
  | {event: 'shutdown'; reason: string}
  | {event: 'stopped'}
  | {event: 'connection-opened'; id: number; instance: string; generation: number; client: string}
  | {event: 'connection-closed'; id: number; instance: string; generation: number; bytesIn: number; bytesOut: number; durationMs: number; reason: string}
  | {event: 'backend-connect-failed'; instance: string; generation: number; error: string}
  | {event: 'client-queued'; waiting: number}
  | {event: 'client-rejected'; reason: string}
  | {event: 'accept-error'; error: string}
  | {event: 'restart-started'; generation: number; reason: string; instances: string[]; files?: string[]}
  | {event: 'restart-retrying'; instance: string; generation: number; attempt: number; attempts: number; inMs: number; reason: string}
  | {event: 'restart-switched'; instance: string; from: number | null; to: number; port: number; switchMs: number}
  | {event: 'restart-completed'; generation: number; reason: string; durationMs: number; restarted: string[]; failed: string[]}
  | {event: 'instance-stopping'; instance: string; generation: number; pid: number; graceMs: number}
  | {event: 'chaos-restart'; instance: string; generation: number}
