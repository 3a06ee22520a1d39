import type {CommandLine} from '../command-line.js'
import type {InstanceState, LocalOperation, RestartReport} from '../contract.js'
import {type LocalGatewayClient, waitForLocalOperation} from '../control/client.js'
import {CliError} from '../errors.js'
import {keyValueBlock, table} from '../output/render.js'
import {formatBytes, formatUptime} from '../output/units.js'
import {type TcpEndpoint, tcpEndpoint} from './common.js'
import type {RestartResult, RestartTarget} from './restart.js'

/** One instance of the local gateway as `addons:tcp:info --local --json` prints it. */
export interface LocalInstanceView {
  /** `tcp-1`, `worker-1`; both generations of an instance show up during a rolling restart. */
  name: string
  type: string
  generation: number
  state: InstanceState
  /** Null while the process is not running (booting again after a crash, stopped, failed). */
  pid: number | null
  port: number | null
  uptimeSeconds: number
  activeConnections: number
  totalConnections: number
  bytesIn: number
  bytesOut: number
  restarts: number
}

/** What `addons:tcp:info --local --json` prints. */
export interface LocalTcpInfo extends TcpEndpoint {
  local: true
  app: string
  /** The app directory `tcp:proxy` runs in (where its state file is). */
  dir: string
  /** The control interface; its token is never shown. */
  controlUrl: string
  gatewayPid: number
  startedAt: string | null
  restarting: boolean
  connections: {active: number; total: number}
  instances: LocalInstanceView[]
}

/** What `addons:tcp:restart --local --json` prints: the platform's shape plus what the rolling restart did. */
export interface LocalRestartResult extends RestartResult {
  /** Null with --no-wait. */
  report: RestartReport | null
}

export async function loadLocalTcpInfo(gateway: LocalGatewayClient): Promise<LocalTcpInfo> {
  const status = await gateway.status()
  return {
    local: true,
    app: status.app,
    ...tcpEndpoint(status.tcpUrl),
    dir: gateway.dir,
    controlUrl: gateway.state.url,
    gatewayPid: gateway.state.pid,
    startedAt: gateway.state.startedAt ?? null,
    restarting: status.restarting,
    connections: status.connections,
    instances: status.instances.map((i) => ({
      name: i.name,
      type: i.type,
      generation: i.generation,
      state: i.state,
      pid: i.pid ?? null,
      port: i.port ?? null,
      uptimeSeconds: Math.floor(i.uptimeMs / 1000),
      activeConnections: i.active,
      totalConnections: i.total,
      bytesIn: i.bytesIn,
      bytesOut: i.bytesOut,
      restarts: i.restarts,
    })),
  }
}

/** The same `=== header` + `Key: value` style as the platform's info, then one table row per instance. */
export function renderLocalTcpInfo(info: LocalTcpInfo): string {
  let text = keyValueBlock(`Local TCP gateway of ${info.app}`, [
    ['Directory', info.dir],
    ['TCP_URL', info.tcpUrl ?? 'unknown'],
    ['Host', info.host],
    ['Port', info.port],
    ['Control', info.controlUrl],
    ['Gateway PID', info.gatewayPid],
    ['Started', info.startedAt],
    ['Status', info.restarting ? 'restarting' : 'running'],
    ['Connections', `${info.connections.active} active, ${info.connections.total} in total`],
  ])
  text += '\n=== instances\n'
  if (info.instances.length === 0) return text + 'No instance is running.\n'
  const rows = info.instances.map((i) => [
    i.name,
    i.generation,
    i.state,
    i.pid ?? '-',
    i.port ?? '-',
    i.pid === null ? '-' : formatUptime(i.uptimeSeconds * 1000),
    i.activeConnections,
    i.totalConnections,
    formatBytes(i.bytesIn),
    formatBytes(i.bytesOut),
    i.restarts,
  ])
  return (
    text + table(['Name', 'Gen', 'State', 'PID', 'Port', 'Uptime', 'Active', 'Total', 'In', 'Out', 'Restarts'], rows)
  )
}

export function localRestartTarget(
  gateway: LocalGatewayClient,
  commandLine: CommandLine,
): RestartTarget<LocalOperation, {report: RestartReport | null}> {
  const app = gateway.state.app
  return {
    app,
    subject: `the local tcp instances of ${app}`,
    awaited: 'the local tcp instances to restart',
    note: 'Note: connections open on the old tcp instances stay forwarded until their server closes them or the grace period ends; clients must reconnect and retry.',
    checkLater: `${commandLine('addons:tcp:info')} --local`,
    carriedOnBy: 'The local gateway',
    request: async () => (await gateway.restart()).operationId || undefined,
    waitFor: (operationId, options) => waitForLocalOperation(gateway, operationId, options),
    failed: (operation) =>
      new CliError(
        `Restarting the local tcp instances of ${app} failed: ${operation.error || 'the operation ended in error'}.`,
        {
          code: 'OPERATION_FAILED',
          suggestions: [
            `Look at the output of tcp:proxy in ${gateway.dir}`,
            `Check the instances with \`${commandLine('addons:tcp:info')} --local\``,
          ],
        },
      ),
    extra: (operation) => ({report: operation?.report ?? null}),
  }
}
