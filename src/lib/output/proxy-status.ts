import type {LocalStatus} from '../contract.js'
import {table} from './render.js'
import {formatBytes, formatUptime} from './units.js'

/** The `s` key's table: one row per instance (old and new generations during a restart). */
export function renderProxyStatus(status: LocalStatus): string {
  const header =
    `=== ${status.app} on ${status.tcpUrl}${status.restarting ? ' (restarting)' : ''}: ` +
    `${status.connections.active} active connection(s), ${status.connections.total} in total\n`
  const rows = status.instances.map((i) => [
    i.name,
    i.generation,
    i.state,
    i.pid ?? '-',
    i.port ?? '-',
    i.uptimeMs > 0 ? formatUptime(i.uptimeMs) : '-',
    `${i.active}/${i.total}`,
    formatBytes(i.bytesIn),
    formatBytes(i.bytesOut),
    i.restarts,
  ])
  return header + table(['INSTANCE', 'GEN', 'STATE', 'PID', 'PORT', 'UPTIME', 'CONN', 'IN', 'OUT', 'RESTARTS'], rows)
}
