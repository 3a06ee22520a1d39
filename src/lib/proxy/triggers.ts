import {type KeyInput, listenForKeys} from './keys.js'
import type {LocalApp} from './local-app.js'
import {type AppWatcher, watchAppDir} from './watch.js'

export interface TriggerOptions {
  /** --watch: the app directory. */
  watchDir?: string
  /** Keys on an interactive terminal; ignored when the input is not a TTY. */
  keys?: {input: KeyInput; status(): void; quit(): void; interrupt(): void; lost(): void}
}

/**
 * What asks tcp:proxy for a rolling restart besides the control interface and SIGHUP (runUntilStopped
 * tells a SIGHUP sent on purpose from a terminal's hangup): the `r` key and file changes with --watch.
 * Returns the function that removes them and gives the terminal back (also run on process exit, so
 * raw mode never outlives us).
 */
export function installRestartTriggers(
  app: Pick<LocalApp, 'restart' | 'restartForChanges'>,
  options: TriggerOptions,
): () => void {
  const restart = (reason: string) => {
    // A failed restart is reported by its events; the old generation keeps serving.
    app.restart(reason).catch(() => {})
  }

  let watcher: AppWatcher | undefined
  if (options.watchDir) {
    watcher = watchAppDir(options.watchDir, (files) => {
      app.restartForChanges(files).catch(() => {})
    })
  }

  const keys = options.keys
  const restoreTerminal = keys
    ? listenForKeys(keys.input, {
        restart: () => restart('key r'),
        status: keys.status,
        quit: keys.quit,
        interrupt: keys.interrupt,
        lost: keys.lost,
      })
    : undefined
  const uninstall = () => {
    process.off('exit', uninstall)
    watcher?.close()
    restoreTerminal?.()
  }

  process.on('exit', uninstall)
  return uninstall
}
