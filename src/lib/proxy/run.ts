import {claimAppDirectory, type LocalControl, startLocalControl} from '../control/local-control.js'
import type {DirectoryClaim} from '../control/state-file.js'
import {CliError} from '../errors.js'
import type {KeyInput} from './keys.js'
import type {LocalApp} from './local-app.js'
import {ownStopSignals} from './signals.js'
import {installRestartTriggers} from './triggers.js'

export interface RunOptions {
  /** The app directory: where the state file goes, and what --watch watches. */
  dir: string
  /** The CLI's version, written to the state file. */
  version: string
  watch: boolean
  /** Keys `r`, `s`, `q` when it is an interactive terminal. */
  keys: KeyInput
  /** The terminal tcp:proxy was started on: has it hung up? (See Terminal in output/stdio.ts.) */
  terminal: {hungUp(): boolean}
  /** Registers what to do once stdout cannot be written any more (its first write error). */
  onOutputFailed(listener: (error: NodeJS.ErrnoException) => void): void
  /** Where to find the control interface and the status page, once they listen. */
  announceControl(control: LocalControl): void
  printStatus(): void
  warn(message: string): void
  /** Writes out the output still queued once everything has stopped; false when its reader never took it. */
  finishOutput(): Promise<boolean>
}

const HANGUP = 'terminal hung up'

/**
 * tcp:proxy's life: starts the app, then its control interface and restart triggers, and resolves
 * after a graceful stop on SIGINT, SIGTERM, `q`, a hangup of its terminal or its stdout's reader going
 * away. A second SIGINT, SIGTERM or `q` forces it (exit 130). Rejects once everything is stopped when
 * every tcp instance was given up, or when stdout failed for another reason (ENOSPC...). Either way the
 * output is finished (finishOutput) before it settles, and it leaves no listener on `process` behind.
 */
export async function runUntilStopped(app: LocalApp, options: RunOptions): Promise<{outputFinished: boolean}> {
  let finish!: {resolve(): void; reject(error: Error): void}
  const stopped = new Promise<void>((resolve, reject) => (finish = {resolve, reject}))
  // One stop, whatever asked first; later requests only wait for it (a hangup may arrive as SIGHUP,
  // end of input and EIO on stdout, all at once).
  let stopping = false
  const stop = (reason: string, error?: Error) => {
    if (stopping) return
    stopping = true
    app.stop(reason).then(() => (error ? finish.reject(error) : finish.resolve()), finish.reject)
  }

  let signals = 0
  const onSignal = (signal: string) => {
    signals++
    if (signals === 1) stop(signal)
    else {
      app.forceStop()
      process.exit(130)
    }
  }

  // SIGINT and SIGTERM are ours alone until we are done (a host CLI's own listeners may exit at once), and
  // whatever way this process ends, its children's process groups get SIGTERM: see signals.ts.
  const releaseSignals = ownStopSignals(onSignal, () => app.supervisor.processes())
  app.once('fatal', (error: Error) => stop('fatal', error))
  options.onOutputFailed((error) => {
    if (options.terminal.hungUp()) stop(HANGUP)
    // the reader went away (`| head`): as a supervisor would, stop gracefully; nothing went wrong
    else if (error.code === 'EPIPE') stop('stdout closed')
    else stop('stdout failed', new CliError(`Cannot write to stdout (${error.message}): stopped every process.`))
  })

  // SIGHUP is a rolling restart (during start-up: once started), unless the terminal hung up: then it
  // is a graceful stop like SIGTERM's, and not a signal that counts towards forcing it (the kernel and
  // the shell may both send one). A terminal emulator that signals its shell before it closes the
  // terminal gets a restart first; the hangup that follows stops it. The listener stays to the very
  // end, so a SIGHUP while the last output is written cannot kill us by its default action.
  let started = false
  let hangupDuringStart = false
  const onHangup = () => {
    if (options.terminal.hungUp()) stop(HANGUP)
    else if (stopping) return
    else if (started) app.restart('SIGHUP').catch(() => {})
    else hangupDuringStart = true
  }
  process.on('SIGHUP', onHangup)
  let outputFinished: boolean
  try {
    await runApp()
  } finally {
    outputFinished = await options.finishOutput()
    process.removeListener('SIGHUP', onHangup)
  }

  return {outputFinished}

  async function runApp(): Promise<void> {
    // The state file claims the directory before anything starts; the control interface completes it.
    let claim: DirectoryClaim | undefined
    try {
      await app.start(
        async (dir, supervisor, claimOptions) => (claim = await claimAppDirectory(dir, supervisor, claimOptions)),
      )
    } catch (error) {
      await app.stop('start-up failed')
      releaseSignals()
      throw error
    }

    const uninstallTriggers = installRestartTriggers(app, {
      watchDir: options.watch ? options.dir : undefined,
      keys: {
        input: options.keys,
        status: options.printStatus,
        quit: () => onSignal('key q'),
        interrupt: () => onSignal('SIGINT'),
        lost: () => options.terminal.hungUp() && stop(HANGUP),
      },
    })
    started = true
    if (hangupDuringStart && !stopping) app.restart('SIGHUP').catch(() => {})
    // For the --local commands and the status page: the token is in the 0600 state file and the page URL only.
    const control = await startLocalControl(app, {dir: options.dir, version: options.version, claim})
    if (control.stateFileError) options.warn(control.stateFileError)
    options.announceControl(control)
    try {
      await stopped
    } finally {
      uninstallTriggers()
      await control.close()
      releaseSignals()
    }
  }
}
