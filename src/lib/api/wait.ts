import {setTimeout as delay} from 'node:timers/promises'

import {InterruptedError, TimeoutError} from '../errors.js'
import type {ScalingoClient} from './client.js'
import {getOperation, type Operation} from './addons.js'

/** The platform allows 60 requests per minute: one poll per second at most in production. */
export const DEFAULT_POLL_INTERVAL_MS = 1000
export const DEFAULT_WAIT_TIMEOUT = '5m'

/** SCALINGO_TCP_POLL_INTERVAL_MS overrides the poll interval (tests use a few milliseconds). */
export function pollIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const parsed = Number.parseInt(env.SCALINGO_TCP_POLL_INTERVAL_MS ?? '', 10)
  return Number.isFinite(parsed) && parsed > 0 ? parsed : DEFAULT_POLL_INTERVAL_MS
}

export type CheckResult<T> = {done: true; value: T} | {done: false; status: string}

export interface WaitOptions {
  timeoutMs: number
  intervalMs?: number
  signal?: AbortSignal
  /** Called after every check that is not done yet, with its status and the time waited so far. */
  onProgress?: (status: string, elapsedMs: number) => void
  /** What is awaited, for messages: "the TCP Gateway addon to be running". */
  what: string
  /** The command that shows the state later, given as a hint on timeout and interruption. */
  checkLater: string
  /** Who carries on with the work once we stop waiting (default: "The platform"). */
  carriedOnBy?: string
}

/**
 * Calls `check` until it says done, every `intervalMs`, and resolves with its value. Throws a
 * TimeoutError (exit 5) after `timeoutMs` and an InterruptedError (exit 130) when `signal` aborts;
 * both say the platform carries on and which command shows its state. Errors from `check` propagate.
 */
export async function waitFor<T>(check: () => Promise<CheckResult<T>>, options: WaitOptions): Promise<T> {
  const started = Date.now()
  const deadline = started + options.timeoutMs
  const intervalMs = options.intervalMs ?? pollIntervalMs()
  const later = `${options.carriedOnBy ?? 'The platform'} carries on: check its state with \`${options.checkLater}\``
  const interrupted = () => new InterruptedError(`Interrupted while waiting for ${options.what}.`, [later])
  for (;;) {
    if (options.signal?.aborted) throw interrupted()
    const result = await abortable(check(), options.signal, interrupted)
    if (result.done) return result.value
    options.onProgress?.(result.status, Date.now() - started)
    const remaining = deadline - Date.now()
    if (remaining <= 0) {
      throw new TimeoutError(
        `Gave up waiting for ${options.what} after ${formatSeconds(options.timeoutMs)} (last status: ${result.status}).`,
        [later, 'Or wait longer with --wait-timeout (e.g. --wait-timeout 10m)'],
      )
    }

    await abortable(
      delay(Math.min(intervalMs, remaining), undefined, {signal: options.signal}),
      options.signal,
      interrupted,
    )
  }
}

/** Waits for a restart or scale operation to end; resolves with it whether it is `done` or `error`. */
export function waitForOperation(
  client: ScalingoClient,
  app: string,
  operationId: string,
  options: WaitOptions,
): Promise<Operation> {
  return waitFor(async () => {
    const operation = await getOperation(client, app, operationId)
    return operation.status === 'done' || operation.status === 'error'
      ? {done: true, value: operation}
      : {done: false, status: operation.status}
  }, options)
}

/**
 * Runs `task` with a signal that aborts on Ctrl-C (SIGINT), so a wait can stop cleanly instead of
 * the process dying mid-spinner. The handler is removed afterwards.
 */
export async function withInterrupt<T>(task: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const onSignal = () => controller.abort()
  process.on('SIGINT', onSignal)
  try {
    return await task(controller.signal)
  } finally {
    process.removeListener('SIGINT', onSignal)
  }
}

/** Seconds an operation took, from its own timestamps when it has them. */
export function operationSeconds(operation: Operation, fallbackMs: number): number {
  const created = Date.parse(operation.created_at ?? '')
  const finished = Date.parse(operation.finished_at ?? '')
  const ms =
    Number.isFinite(created) && Number.isFinite(finished) && finished >= created ? finished - created : fallbackMs
  return Math.round(ms / 100) / 10
}

function formatSeconds(ms: number): string {
  return ms % 60_000 === 0 && ms >= 60_000 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, error: () => Error): Promise<T> {
  if (!signal) return promise
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(error())
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, {once: true})
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error_: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error_)
      },
    )
  })
}
