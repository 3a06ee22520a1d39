import {type LocalControl, startLocalControl} from '../control/local-control.js'
import type {KeyInput} from './keys.js'
import type {LocalApp} from './local-app.js'
import {installRestartTriggers} from './triggers.js'

export interface RunOptions {
  /** The app directory: where the state file goes, and what --watch watches. */
  dir: string
  /** The CLI's version, written to the state file. */
  version: string
  watch: boolean
  /** Keys `r`, `s`, `q` when it is an interactive terminal. */
  keys: KeyInput
  /** Where to find the control interface and the status page, once they listen. */
  announceControl(control: LocalControl): void
  printStatus(): void
  warn(message: string): void
}

/**
 * tcp:proxy's life: starts the app, then its control interface and restart triggers, and resolves
 * after a graceful stop on SIGINT, SIGTERM or `q`. A second signal forces it (exit 130); every tcp
 * instance given up rejects with that error once everything is stopped.
 */
export async function runUntilStopped(app: LocalApp, options: RunOptions): Promise<void> {
  let signals = 0
  let onSignal!: (signal: string) => void
  const stopped = new Promise<void>((resolve, reject) => {
    onSignal = (signal: string) => {
      signals++
      if (signals === 1) void app.stop(signal).then(resolve, reject)
      else {
        app.forceStop()
        process.exit(130)
      }
    }

    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    // Whatever way this process ends, its children's process groups end with it.
    process.on('exit', () => app.supervisor.killAll())
    app.once('fatal', (error: Error) => void app.stop('fatal').then(() => reject(error), reject))
  })
  // SIGHUP's default action would kill us: during start-up it only asks for a restart once started.
  let hangupDuringStart = false
  const deferHangup = () => (hangupDuringStart = true)
  process.on('SIGHUP', deferHangup)
  try {
    await app.start()
  } catch (error) {
    await app.stop('start-up failed')
    throw error
  }

  const uninstallTriggers = installRestartTriggers(app, {
    watchDir: options.watch ? options.dir : undefined,
    keys: {input: options.keys, status: options.printStatus, quit: () => onSignal('key q'), interrupt: () => onSignal('SIGINT')},
  })
  process.off('SIGHUP', deferHangup)
  if (hangupDuringStart) app.restart('SIGHUP').catch(() => {})
  // For the --local commands and the status page: the token is in the 0600 state file and the page URL only.
  const control = await startLocalControl(app, {dir: options.dir, version: options.version})
  if (control.stateFileError) options.warn(control.stateFileError)
  options.announceControl(control)
  try {
    await stopped
  } finally {
    uninstallTriggers()
    await control.close()
  }
}
