import type {InstanceStatus, LocalStatus} from '../contract.js'
import type {Gateway} from '../gateway/gateway.js'
import type {Instance} from './model.js'
import {UPSTREAM_ID_PREFIX} from './upstreams.js'

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
      name: backend.id,
      type: 'upstream',
      generation: 0,
      state: backend.state === 'ready' ? 'ready' : 'booting',
      port: backend.port,
      uptimeMs: 0,
      active: backend.active,
      total: backend.total,
      bytesIn: backend.bytesIn,
      bytesOut: backend.bytesOut,
      restarts: 0,
    })
  }

  return {
    app: app.name,
    tcpUrl: app.tcpUrl,
    restarting: app.restarting,
    instances: statuses,
    connections: gateway.connections,
  }
}
