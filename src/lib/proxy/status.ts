/**
 * What a running tcp:proxy reports about itself: the shapes `status()` and `restart()` return, shared
 * with the local control interface (addons:tcp:info --local, addons:tcp:restart --local).
 */
export type InstanceState = 'booting' | 'ready' | 'draining' | 'crashed' | 'stopped' | 'failed'

export interface RestartReport {
  /** The generation the restarted instances now run. */
  generation: number
  durationMs: number
  /** Instances (`tcp-1`...) whose new generation took over and whose old one is gone. */
  restarted: string[]
  /** Instances whose new generation never became ready: their old generation keeps serving. */
  failed: string[]
}

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

export interface LocalStatus {
  app: string
  tcpUrl: string
  restarting: boolean
  instances: InstanceStatus[]
  connections: {active: number; total: number}
}
