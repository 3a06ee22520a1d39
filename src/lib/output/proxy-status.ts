import type {LocalStatus} from '../proxy/status.js'
import {table} from './render.js'

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 ** 2).toFixed(1)} MiB`
}

function uptime(ms: number): string {
  if (ms <= 0) return '-'
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
}

/** The `s` key's table: one row per instance (old and new generations during a restart). */
export function renderProxyStatus(status: LocalStatus): string {
  const header = `=== ${status.app} on ${status.tcpUrl}${status.restarting ? ' (restarting)' : ''}: ` +
    `${status.connections.active} active connection(s), ${status.connections.total} in total\n`
  const rows = status.instances.map((i) => [
    i.name, i.generation, i.state, i.pid ?? '-', i.port ?? '-', uptime(i.uptimeMs),
    `${i.active}/${i.total}`, formatBytes(i.bytesIn), formatBytes(i.bytesOut), i.restarts,
  ])
  return header + table(['INSTANCE', 'GEN', 'STATE', 'PID', 'PORT', 'UPTIME', 'CONN', 'IN', 'OUT', 'RESTARTS'], rows)
}
