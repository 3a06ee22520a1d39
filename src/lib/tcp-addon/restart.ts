import type {CommandLine} from '../command-line.js'
import {type Operation, restart} from '../api/addons.js'
import type {ScalingoClient} from '../api/client.js'
import {operationSeconds, waitForOperation, type WaitOptions} from '../api/wait.js'
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
  signal?: AbortSignal
  intervalMs?: number
  /** The restart was accepted; the wait (if any) starts now. */
  onAccepted?: (operationId: string | undefined) => void
  onProgress?: (status: string, elapsedMs: number) => void
}

/**
 * Where the `tcp` instances are restarted: the platform, or the local gateway of `tcp:proxy`. Both
 * expose Scalingo-shaped operations, so one piece of code requests, follows and reports a restart.
 */
export interface RestartTarget<O extends Operation = Operation, Extra extends object = object> {
  app: string
  /** For messages: "the tcp containers of my-app". */
  subject: string
  /** For wait messages: "the tcp containers to restart". */
  awaited: string
  /** What happens to open connections, told before restarting. */
  note: string
  /** The command that shows the state later, given as a hint on timeout and interruption. */
  checkLater: string
  /** Who goes on restarting once we stop waiting (default: the platform). */
  carriedOnBy?: string
  /** Starts the restart; resolves with the id of the operation to follow, if there is one. */
  request(): Promise<string | undefined>
  waitFor(operationId: string, options: WaitOptions): Promise<O>
  /** The error an operation that ended in `error` turns into (exit 1). */
  failed(operation: O): CliError
  /** What this target adds to the result, from the final operation (undefined when not waited for). */
  extra(operation: O | undefined): Extra
}

export const TCP_SCOPE = ['tcp']

export function platformRestartTarget(
  client: ScalingoClient,
  app: string,
  commandLine: CommandLine,
): RestartTarget<Operation, object> {
  return {
    app,
    subject: `the tcp containers of ${app}`,
    awaited: 'the tcp containers to restart',
    note: 'Note: connections open on the old tcp containers are dropped when they stop; clients must reconnect and retry.',
    checkLater: `${commandLine('addons:tcp:info')} -a ${app}`,
    request: async () => (await restart(client, app, TCP_SCOPE)).operationId,
    waitFor: (operationId, options) => waitForOperation(client, app, operationId, options),
    failed: (operation) => operationFailed(operation, 'Restarting the tcp containers', app),
    extra: () => ({}),
  }
}

/** Restarts the `tcp` instances of `target` and, unless told not to, follows the operation to its end. */
export async function followRestart<O extends Operation, Extra extends object>(
  target: RestartTarget<O, Extra>,
  options: RestartOptions,
): Promise<RestartResult & Extra> {
  const started = Date.now()
  const operationId = await target.request()
  options.onAccepted?.(operationId)
  const result: RestartResult = {
    app: target.app,
    scope: TCP_SCOPE,
    operation: operationId ? {id: operationId, type: 'restart', status: 'pending', error: null} : null,
    waited: false,
    durationSeconds: null,
  }
  if (!options.wait || !operationId) return {...result, ...target.extra(undefined)}

  const operation = await target.waitFor(operationId, {
    timeoutMs: options.timeoutMs,
    intervalMs: options.intervalMs,
    signal: options.signal,
    onProgress: options.onProgress,
    what: target.awaited,
    checkLater: target.checkLater,
    carriedOnBy: target.carriedOnBy,
  })
  if (operation.status === 'error') throw target.failed(operation)
  const durationSeconds = operationSeconds(operation, Date.now() - started)
  return {...result, operation: operationView(operation), waited: true, durationSeconds, ...target.extra(operation)}
}

function operationView(operation: Operation): NonNullable<RestartResult['operation']> {
  return {id: operation.id, type: operation.type ?? null, status: operation.status, error: operation.error ?? null}
}

export function operationFailed(operation: Operation, what: string, app: string): CliError {
  return new CliError(`${what} failed on Scalingo: ${operation.error || 'the operation ended in error'}.`, {
    code: 'OPERATION_FAILED',
    suggestions: [`Look at the app's logs: \`scalingo --app ${app} logs --lines 100\``],
  })
}
