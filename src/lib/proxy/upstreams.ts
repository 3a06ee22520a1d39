import {waitForAccept} from '../gateway/readiness.js'
import type {AppRuntime, Upstream} from './model.js'

export const UPSTREAM_ID_PREFIX = 'upstream-'

/**
 * --upstream: a server the gateway balances to but does not start, probed like an instance. It is
 * somebody else's server (maybe in a debugger), so it is probed until it answers, however long.
 */
export async function serveUpstream(runtime: AppRuntime, upstream: Upstream, index: number): Promise<void> {
  const id = `${UPSTREAM_ID_PREFIX}${index}`
  const {gateway, signal: stopped} = runtime
  gateway.addBackend({id, host: upstream.host, port: upstream.port, generation: 0})
  while (!stopped.aborted) {
    try {
      await waitForAccept(upstream.host, upstream.port, {timeoutMs: runtime.options.bootTimeoutMs, signal: stopped})
      gateway.setReady(id)
      runtime.emitEvent({event: 'upstream-ready', instance: id, host: upstream.host, port: upstream.port})
      return
    } catch {
      // Not answering yet: probe again until it does or the app stops.
    }
  }
}
