import {connect} from 'node:net'

import {TimeoutError} from '../errors.js'
import {hostPort} from '../host-port.js'

export interface WaitForAcceptOptions {
  timeoutMs: number
  /** Delay between two probes after a refused one. */
  intervalMs?: number
  signal?: AbortSignal
}

/**
 * Resolves once one TCP connection to host:port is accepted, which is the platform's definition of a
 * ready container. Each probe is closed as soon as it connects. Rejects with a TimeoutError after
 * timeoutMs, or with the signal's reason when aborted.
 */
export function waitForAccept(host: string, port: number, options: WaitForAcceptOptions): Promise<void> {
  const {timeoutMs, intervalMs = 50, signal} = options
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }

    const deadline = Date.now() + timeoutMs
    let retry: NodeJS.Timeout | undefined
    let probe: ReturnType<typeof connect> | undefined
    let settled = false

    const settle = (error?: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(retry)
      clearTimeout(overall)
      signal?.removeEventListener('abort', onAbort)
      probe?.destroy()
      if (error === undefined) resolve()
      else reject(error)
    }

    const onAbort = () => settle(signal!.reason)

    const attempt = () => {
      const socket = connect({host, port})
      probe = socket
      // A host that drops SYNs would hang a probe: bound it by what is left of the overall timeout.
      socket.setTimeout(Math.max(1, deadline - Date.now()))
      socket.once('connect', () => settle())
      socket.once('timeout', () => socket.destroy())
      socket.once('error', () => {})
      socket.once('close', () => {
        if (settled || probe !== socket) return
        retry = setTimeout(attempt, intervalMs)
      })
    }

    const overall = setTimeout(() => {
      settle(
        new TimeoutError(
          `Nothing accepted a TCP connection on ${hostPort(host, port)} within ${formatMs(timeoutMs)}.`,
          [
            `Check that the process listens on ${host === '127.0.0.1' ? '0.0.0.0 or 127.0.0.1' : host} and port ${port}.`,
            'Raise the boot timeout if it needs longer to start.',
          ],
        ),
      )
    }, timeoutMs)

    signal?.addEventListener('abort', onAbort, {once: true})
    attempt()
  })
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}
