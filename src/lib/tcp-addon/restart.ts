import {type Operation, restart} from '../api/addons.js'
import type {ScalingoClient} from '../api/client.js'
import {operationSeconds, waitForOperation} from '../api/wait.js'
import {CliError} from '../errors.js'

/** What `addons:tcp:restart --json` prints. */
export interface RestartResult {
  app: string
  scope: string[]
  /** The platform's operation; null when it returned no Location to follow. */
  operation: {id: string; type: string | null; status: string; error: string | null} | null
  waited: boolean
  /** From the operation's own timestamps; null when not waited for. */
  durationSeconds: number | null
}

export interface RestartOptions {
  wait: boolean
  timeoutMs: number
  bin: string
  signal?: AbortSignal
  intervalMs?: number
  /** The restart was accepted; the wait (if any) starts now. */
  onAccepted?: (operationId: string | undefined) => void
  onProgress?: (status: string, elapsedMs: number) => void
}

export const TCP_SCOPE = ['tcp']

/** Restarts the `tcp` containers and, unless told not to, follows the operation to its end. */
export async function restartTcp(client: ScalingoClient, app: string, options: RestartOptions): Promise<RestartResult> {
  const started = Date.now()
  const {operationId} = await restart(client, app, TCP_SCOPE)
  options.onAccepted?.(operationId)
  const result: RestartResult = {
    app,
    scope: TCP_SCOPE,
    operation: operationId ? {id: operationId, type: 'restart', status: 'pending', error: null} : null,
    waited: false,
    durationSeconds: null,
  }
  if (!options.wait || !operationId) return result

  const operation = await waitForOperation(client, app, operationId, {
    timeoutMs: options.timeoutMs,
    intervalMs: options.intervalMs,
    signal: options.signal,
    onProgress: options.onProgress,
    what: 'the tcp containers to restart',
    checkLater: `${options.bin} addons:tcp:info -a ${app}`,
  })
  if (operation.status === 'error') throw operationFailed(operation, 'Restarting the tcp containers', app)
  return {...result, operation: operationView(operation), waited: true, durationSeconds: operationSeconds(operation, Date.now() - started)}
}

export function operationView(operation: Operation): NonNullable<RestartResult['operation']> {
  return {id: operation.id, type: operation.type ?? null, status: operation.status, error: operation.error ?? null}
}

export function operationFailed(operation: Operation, what: string, app: string): CliError {
  return new CliError(`${what} failed on Scalingo: ${operation.error || 'the operation ended in error'}.`, {
    code: 'OPERATION_FAILED',
    suggestions: [`Look at the app's logs: \`scalingo --app ${app} logs --lines 100\``],
  })
}
