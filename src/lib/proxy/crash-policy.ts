/** Exponential backoff shared by crash restarts and failed restart attempts, capped like the platform's waits. */
export const BACKOFF_MAX_MS = 60_000
export const DEFAULT_BACKOFF_BASE_MS = 1000
/** As on the platform: a restart or scale retries a container that never becomes ready 20 times. */
export const DEFAULT_RESTART_ATTEMPTS = 20

/** base, 2 x base, 4 x base... for attempt 1, 2, 3..., never more than BACKOFF_MAX_MS. */
export function backoffDelay(attempt: number, baseMs: number): number {
  return Math.min(BACKOFF_MAX_MS, baseMs * 2 ** Math.max(0, attempt - 1))
}

/**
 * Wait before restarting an instance after its nth crash. The first crash of an instance that had
 * become ready restarts it at once (the platform does too); every later one, and any crash before the
 * instance ever became ready (restarting at once would just spin), backs off exponentially.
 */
export function crashRestartDelay(crashes: number, crashedWhileBooting: boolean, baseMs: number): number {
  if (crashes <= 1 && !crashedWhileBooting) return 0
  return backoffDelay(crashedWhileBooting ? crashes : crashes - 1, baseMs)
}
