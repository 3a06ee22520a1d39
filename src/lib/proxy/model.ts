import type {InstanceState, ProxyEvent} from '../contract.js'
import type {BalanceMode, DropMode, Gateway, MaxConnectionsMode} from '../gateway/gateway.js'
import type {ManagedProcess, Supervisor} from '../supervisor/supervisor.js'

/**
 * The local app's shared types: what tcp:proxy runs (options, process types, upstreams), its instances and what
 * the parts of a LocalApp share (the runtime). Types only: every file of proxy/ may import this one, and it imports
 * none of them, so they never import each other in a circle.
 */

export type {InstanceState} from '../contract.js'

export interface LocalAppOptions {
  cwd: string
  app: string
  version?: string
  formation: ProcessType[]
  upstreams: Upstream[]
  parentEnv: Record<string, string | undefined>
  dotenv: Record<string, string>
  host: string
  port: number
  webPort: number
  balance: BalanceMode
  drop: DropMode
  graceMs: number
  bootTimeoutMs: number
  queueTimeoutMs: number
  maxCrashes: number
  /** Base of the exponential backoff for crash restarts and restart retries (default 1 s). */
  backoffBaseMs?: number
  /** Start attempts of a new generation during a rolling restart (default 20, as the platform). */
  restartAttempts?: number
  /** --chaos: restart one random tcp instance after a random delay in this range, again and again. */
  chaos?: {minMs: number; maxMs: number}
  /** 0 or unset: no limit. */
  maxConnections?: number
  maxConnectionsMode?: MaxConnectionsMode
  /** 0 or unset: connections may stay idle forever, as on the platform. */
  idleTimeoutMs?: number
  /** connection-opened/-closed events (default true); false spares every connection their cost. */
  connectionEvents?: boolean
}

/** A Procfile entry and how many instances of it run. */
export interface ProcessType {
  type: string
  command: string
  count: number
}

/** One container of the app: a process of one type, index and generation. */
export interface Instance {
  name: string
  type: string
  index: number
  generation: number
  port?: number
  state: InstanceState
  process?: ManagedProcess
  startedAt: number
  crashes: number
  /** Crash restarts plus rolling restarts of this instance's slot (`tcp-1`), carried across generations. */
  restarts: number
  /** The gateway's id for a tcp instance: one per generation, so old and new can coexist. */
  backendId?: string
  /** A new generation booting during a rolling restart: its failures belong to the restart, not to the crash policy. */
  candidate?: boolean
  /** Replaced by a newer generation: it must never go live again. */
  retired?: boolean
  restartTimer?: NodeJS.Timeout
}

/** What the parts of a LocalApp (instances, rolling restarts, crash recovery, chaos) share. */
export interface AppRuntime {
  readonly options: LocalAppOptions
  readonly gateway: Gateway
  readonly supervisor: Supervisor
  /** Aborted once the app stops: every wait ends and nothing new starts. */
  readonly signal: AbortSignal
  emitEvent(event: ProxyEvent): void
  environmentFor(type: string, index: number, port?: number): Record<string, string>
}

/** --upstream: a server the gateway balances to but does not start. */
export interface Upstream {
  host: string
  port: number
}

/** The app directory held from start-up to stop (control/ implements it: the state file). */
export interface DirectoryClaim {
  remove(): void
}

/**
 * Makes the app directory this gateway's before anything listens or starts; throws when another gateway runs
 * there, resolves undefined when the directory cannot be written (the app runs anyway).
 */
export type ClaimDirectory<C extends DirectoryClaim> = (
  dir: string,
  supervisor: Supervisor,
  options: {app: string; graceMs: number; onLeftovers(leftovers: {gatewayPid: number; pids: number[]}): void},
) => Promise<C | undefined>
