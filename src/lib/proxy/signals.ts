/**
 * tcp:proxy owns SIGINT and SIGTERM while it runs: they mean "stop every instance gracefully", and nothing else
 * in the process may act on them first. A host CLI can have its own listeners: the Heroku CLI's (telemetry)
 * call process.exit(1) on SIGINT and SIGTERM, and Node runs every listener, so the host's would end us before
 * the instances got their SIGTERM. So, for that time only, the listeners already there are taken off (public
 * EventEmitter API on `process`: nothing private of the host is touched, and they are not called) and put back,
 * in their order and ahead of any added since, once tcp:proxy is done with the signals. Listeners added while it
 * runs are left alone.
 *
 * Whatever else ends the process first (a host's process.exit, an uncaught exception), every live instance group
 * gets a synchronous SIGTERM on 'exit': it can still clean up, though nobody is left to wait for it. What
 * outlives even that is for the reaping of strays at the next start.
 */

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']

/** What ownStopSignals signals on 'exit': the supervisor's live processes (ManagedProcess.signal is a no-op once one has exited). */
export interface SignalTarget {
  signal(signal: NodeJS.Signals): void
}

/**
 * Routes SIGINT and SIGTERM to `onSignal` alone until the returned function is called; from now on, whenever the
 * process exits before then, every process `live()` returns gets SIGTERM.
 */
export function ownStopSignals(
  onSignal: (signal: NodeJS.Signals) => void,
  live: () => Iterable<SignalTarget>,
): () => void {
  const onExit = () => {
    for (const target of live()) target.signal('SIGTERM')
  }

  process.on('exit', onExit)
  // rawListeners: `once` listeners come back as they were (still once), not as plain ones.
  const others = new Map(
    STOP_SIGNALS.map((signal) => [signal, process.rawListeners(signal) as Array<(...args: unknown[]) => void>]),
  )
  for (const [signal, listeners] of others) {
    for (const listener of listeners) process.removeListener(signal, listener)
    process.on(signal, onSignal)
  }

  let released = false
  return () => {
    if (released) return
    released = true
    // A library user starts and stops many apps in one process: nothing of this one may stay behind.
    process.removeListener('exit', onExit)
    for (const [signal, listeners] of others) {
      process.removeListener(signal, onSignal)
      for (const listener of [...listeners].reverse()) process.prependListener(signal, listener)
    }
  }
}
