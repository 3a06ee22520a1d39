import {type ControlServer, type ControlTarget, startControlServer} from './server.js'
import {STATE_FILE_NAME, type StateFileHandle, writeStateFile} from './state-file.js'
import {installStatusPage, type ProxyEventSource, statusPageUrl} from './status-page.js'

export interface LocalControl {
  server: ControlServer
  /** The control interface's address, without the token (safe to log). */
  url: string
  /** The status page's address WITH the token: only for the one line that tells the user where to open it. */
  pageUrl: string
  /** Undefined when the directory is not writable: the gateway still runs, the --local commands cannot find it. */
  stateFile?: StateFileHandle
  stateFileError?: string
  close(): Promise<void>
}

/** The control interface of a running `tcp:proxy`, and the state file in the app directory that points to it. */
export async function startLocalControl(target: ControlTarget & Partial<ProxyEventSource>, options: {dir: string; version: string}): Promise<LocalControl> {
  const server = await startControlServer(target)
  const events = typeof target.on === 'function' && typeof target.off === 'function' ? (target as ProxyEventSource) : undefined
  installStatusPage(server, events)
  const {app, tcpUrl} = target.status()
  let stateFile: StateFileHandle | undefined
  let stateFileError: string | undefined
  try {
    stateFile = writeStateFile(options.dir, {
      pid: process.pid,
      url: server.url,
      token: server.token,
      tcpUrl,
      app,
      startedAt: new Date().toISOString(),
      version: options.version,
    })
  } catch (error) {
    stateFileError = `Could not write ${STATE_FILE_NAME} in ${options.dir} (${(error as Error).message}): the --local commands will not find this gateway.`
  }

  return {
    server,
    url: server.url,
    pageUrl: statusPageUrl(server),
    stateFile,
    stateFileError,
    async close() {
      stateFile?.remove()
      await server.close()
    },
  }
}
