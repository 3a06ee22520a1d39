import type {ProxyEvent} from '../contract.js'
import {describeRejection, type GatewayEvent, type Rejection} from '../gateway/types.js'
import type {Instance} from './model.js'

/**
 * The gateway's event as tcp:proxy reports it: backends named by their instance (`tcp-1`, generation 2)
 * instead of the gateway's ids. Undefined for the gateway's internal events.
 */
export function proxyEventOf(
  e: GatewayEvent,
  instanceOf: (backendId: string) => Instance | undefined,
): ProxyEvent | undefined {
  switch (e.type) {
    case 'connection-opened':
    case 'connection-closed':
    case 'backend-connect-failed': {
      const instance = instanceOf(e.backend)
      const name = instance?.name ?? e.backend
      const generation = instance?.generation ?? 0
      if (e.type === 'connection-opened')
        return {event: 'connection-opened', id: e.id, instance: name, generation, client: e.client}
      if (e.type === 'backend-connect-failed')
        return {event: 'backend-connect-failed', instance: name, generation, error: e.error}
      const {id, bytesIn, bytesOut, durationMs, reason} = e
      return {event: 'connection-closed', id, instance: name, generation, bytesIn, bytesOut, durationMs, reason}
    }

    case 'client-queued':
      return {event: 'client-queued', waiting: e.waiting}
    case 'client-rejected':
      return {event: 'client-rejected', reason: rejectionReason(e)}
    case 'accept-error':
      return {event: 'accept-error', error: e.error}
    default:
      return undefined
  }
}

/** Why a client was refused, naming the flag that set the limit it hit (the gateway's own words name none). */
export function rejectionReason(rejection: Rejection): string {
  switch (rejection.cause) {
    case 'connection-limit':
      return `${rejection.limit} connections already open (--max-connections)`
    case 'no-free-slot':
      return `no connection slot freed up (--max-connections ${rejection.limit}) within ${rejection.waitedMs} ms`
    default:
      return describeRejection(rejection)
  }
}
