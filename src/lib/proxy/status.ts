import type {Gateway} from '../gateway/gateway.js'
import type {Instance} from './instance.js'
import {UPSTREAM_ID_PREFIX} from './upstreams.js'

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

/** The status of every instance, with the gateway's counters for it; upstreams last. */
export function buildStatus(
  app: {name: string; tcpUrl: string; restarting: boolean},
  instances: Instance[],
  gateway: Pick<Gateway, 'backends' | 'connections'>,
): LocalStatus {
  const backends = new Map(gateway.backends().map((b) => [b.id, b]))
  const now = Date.now()
  const statuses: InstanceStatus[] = instances.map((instance) => {
    const backend = instance.backendId ? backends.get(instance.backendId) : undefined
    const running = instance.process?.running === true
    return {
      name: instance.name,
      type: instance.type,
      generation: instance.generation,
      state: instance.state,
      pid: running ? instance.process!.pid : undefined,
      port: instance.port,
      uptimeMs: running ? now - instance.startedAt : 0,
      active: backend?.active ?? 0,
      total: backend?.total ?? 0,
      bytesIn: backend?.bytesIn ?? 0,
      bytesOut: backend?.bytesOut ?? 0,
      restarts: instance.restarts,
    }
  })
  for (const backend of backends.values()) {
    if (!backend.id.startsWith(UPSTREAM_ID_PREFIX)) continue
    statuses.push({
      name: backend.id, type: 'upstream', generation: 0, state: backend.state === 'ready' ? 'ready' : 'booting',
      port: backend.port, uptimeMs: 0, active: backend.active, total: backend.total,
      bytesIn: backend.bytesIn, bytesOut: backend.bytesOut, restarts: 0,
    })
  }

  return {app: app.name, tcpUrl: app.tcpUrl, restarting: app.restarting, instances: statuses, connections: gateway.connections}
}
