import {join} from 'node:path'

import {type ClaimState, STATE_FILE_NAME} from '../contract.js'
import {CliError} from '../errors.js'
import {processStartTime} from '../supervisor/proc.js'
import {leftoversOf, terminateProcesses} from '../supervisor/strays.js'
import type {Supervisor} from '../supervisor/supervisor.js'
import {type ControlServer, type ControlTarget, startControlServer} from './server.js'
import {DirectoryClaim, gatewayRunning, readClaim, type StateFileHandle, writeStateFile} from './state-file.js'
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

/**
 * The control interface of a running `tcp:proxy`, and the state file in the app directory that points to it:
 * the directory's claim (see claimAppDirectory) completed, or a state file written now without one.
 */
export async function startLocalControl(
  target: ControlTarget & Partial<ProxyEventSource>,
  options: {dir: string; version: string; claim?: DirectoryClaim},
): Promise<LocalControl> {
  const server = await startControlServer(target)
  const events =
    typeof target.on === 'function' && typeof target.off === 'function' ? (target as ProxyEventSource) : undefined
  installStatusPage(server, events)
  const {app, tcpUrl} = target.status()
  let stateFile: StateFileHandle | undefined
  let stateFileError: string | undefined
  try {
    const {claim} = options
    if (claim) {
      claim.publish({url: server.url, token: server.token, tcpUrl, version: options.version})
      stateFile = claim
    } else {
      stateFile = writeStateFile(options.dir, {
        pid: process.pid,
        url: server.url,
        token: server.token,
        tcpUrl,
        app,
        startedAt: new Date().toISOString(),
        version: options.version,
      })
    }
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

export interface Leftovers {
  /** The pid of the gateway that left them. */
  gatewayPid: number
  pids: number[]
}

/**
 * Run before the gateway starts anything: makes `dir` this gateway's, as overmind does with its socket.
 *
 * - Another tcp:proxy runs there (its pid alive and, on Linux, with the start time it recorded: a
 *   reused pid is not it): a CliError naming it, exit 1.
 * - A gateway that died without stopping its instances (SIGKILL, OOM killer) left its state file:
 *   what it left running is stopped as at a shutdown (SIGTERM, SIGKILL after graceMs; `onLeftovers` is
 *   told first), on Linux only (found by the marker in their environment, or as members of the process
 *   groups it recorded whose leader is still the process recorded), and the file is replaced.
 * - The claimed file records the supervisor's marker and, from then on, its live process groups.
 *
 * Resolves with no claim when the directory cannot be written: the gateway runs anyway, unprotected
 * (the caller reports it when it publishes the control interface).
 */
export async function claimAppDirectory(
  dir: string,
  supervisor: Supervisor,
  options: {app: string; graceMs: number; onLeftovers?: (leftovers: Leftovers) => void},
): Promise<DirectoryClaim | undefined> {
  const path = join(dir, STATE_FILE_NAME)
  let claim: DirectoryClaim | undefined
  let stale: ClaimState | undefined
  const state: ClaimState = {
    pid: process.pid,
    app: options.app,
    startedAt: new Date().toISOString(),
    marker: supervisor.marker,
    groups: [],
  }
  const startTime = processStartTime(process.pid)
  if (startTime !== undefined) state.startTime = startTime

  // a few rounds at most: only a concurrent start in the same directory makes a round fail
  for (let round = 0; round < 3 && !claim; round++) {
    const previous = readClaim(path)
    if (previous && gatewayRunning(previous)) throw anotherGateway(dir, previous)
    try {
      claim = new DirectoryClaim(dir, state, previous)
      stale = previous
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue
      stale = previous // unwritable: still stop what a dead gateway left, but run without a claim
      break
    }
  }

  if (stale) {
    const find = () => leftoversOf(stale.marker, stale.groups ?? [])
    const found = find()
    if (found.length > 0) {
      options.onLeftovers?.({gatewayPid: stale.pid, pids: found.map((p) => p.pid)})
      await terminateProcesses(find, options.graceMs)
    }
  }

  supervisor.on('groups', (groups) => claim?.recordGroups(groups))
  return claim
}

function anotherGateway(dir: string, running: ClaimState): CliError {
  const where = running.tcpUrl ? `TCP_URL=${running.tcpUrl}` : 'still starting'
  return new CliError(`Another tcp:proxy is running in ${dir} (pid ${running.pid}, ${where}).`, {
    suggestions: [`Stop it first (kill ${running.pid}), or run this one in another directory.`],
    code: 'GATEWAY_RUNNING',
  })
}
