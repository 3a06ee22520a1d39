import type {ProxyEvent} from '../contract.js'
import type {GatewayEvent} from '../gateway/gateway.js'
import type {Instance} from './model.js'

/**
 * The gateway's event as tcp:proxy reports it: backends named by their instance (`tcp-1`, generation 2)
 * instead of the gateway's ids. Undefined for the gateway's internal events.
 */
export function proxyEventOf(e: GatewayEvent, instanceOf: (backendId: string) => Instance | undefined): ProxyEvent | undefined {
  switch (e.type) {
    case 'connection-opened':
    case 'connection-closed':
    case 'backend-connect-failed': {
      const instance = instanceOf(e.backend)
      const name = instance?.name ?? e.backend
      const generation = instance?.generation ?? 0
      if (e.type === 'connection-opened') return {event: 'connection-opened', id: e.id, instance: name, generation, client: e.client}
      if (e.type === 'backend-connect-failed') return {event: 'backend-connect-failed', instance: name, generation, error: e.error}
      const {id, bytesIn, bytesOut, durationMs, reason} = e
      return {event: 'connection-closed', id, instance: name, generation, bytesIn, bytesOut, durationMs, reason}
    }

    case 'client-queued':
      return {event: 'client-queued', waiting: e.waiting}
    case 'client-rejected':
      return {event: 'client-rejected', reason: e.reason}
    case 'accept-error':
      return {event: 'accept-error', error: e.error}
    default:
      return undefined
  }
}
