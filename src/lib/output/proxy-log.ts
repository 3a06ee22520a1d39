import {type JsonEvent, type ProxyEvent, STATE_FILE_NAME} from '../contract.js'
import {hostPort} from '../host-port.js'
import {LogPrinter} from './log-lines.js'
import {formatBytes} from './units.js'
import {theme} from './theme.js'
import {OutputWriter, PENDING_OUTPUT_LIMIT} from './writer.js'

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** Human rendering of tcp:proxy events as prefixed log lines. */
export function printProxyEvent(printer: LogPrinter, e: ProxyEvent, options: {connections: boolean}): void {
  const g = (text: string) => printer.line('gateway', text, 'gateway')
  switch (e.event) {
    case 'output':
      printer.line(e.instance, e.line, e.stream === 'stderr' ? 'err' : 'out')
      break
    case 'leftovers-stopping':
      g(
        `stopping ${e.pids.length} process(es) the tcp:proxy that ran here before (pid ${e.gatewayPid}) left running (pids ${e.pids.join(', ')}): SIGTERM, SIGKILL after ${seconds(e.graceMs)}`,
      )
      break
    case 'gateway-listening':
      g(`listening on ${hostPort(e.host, e.port)}  TCP_URL=${e.tcpUrl}  (${transportLabel(e)})`)
      break
    case 'instance-starting':
      g(
        `starting ${e.instance} (generation ${e.generation}, pid ${e.pid}${e.port === undefined ? '' : `, PORT=${e.port}`})`,
      )
      break
    case 'instance-ready':
      g(`${e.instance} is ready on port ${e.port} after ${e.bootMs} ms: new connections go to it`)
      break
    case 'instance-boot-failed':
      g(`${e.instance} ${e.reason}`)
      for (const line of e.lastLines) g(`  ${e.instance} last output: ${line}`)
      break
    case 'instance-exited':
      g(`${e.instance} exited (${e.signal ? `signal ${e.signal}` : `code ${e.code}`})${e.expected ? '' : ': crashed'}`)
      break
    case 'instance-restarting':
      g(`restarting ${e.instance} ${e.inMs === 0 ? 'now' : `in ${seconds(e.inMs)}`} (crash ${e.crashes})`)
      break
    case 'instance-gave-up':
      g(`${e.instance} crashed ${e.crashes} times: giving up on it`)
      break
    case 'connections-dropped':
      g(`dropped ${e.count} connection(s) left on ${e.instance} (--drop ${e.mode})`)
      break
    case 'upstream-ready':
      g(`${e.instance} ${hostPort(e.host, e.port)} is ready`)
      break
    case 'backend-connect-failed':
      g(`could not connect to ${e.instance}: ${e.error}; trying another instance`)
      break
    case 'client-rejected':
      g(`client refused: ${e.reason}`)
      break
    case 'accept-error':
      g(`cannot accept new connections: ${e.error}`)
      break
    case 'shutdown':
      g(`shutting down (${e.reason}): SIGTERM sent to every process`)
      break
    case 'stopped':
      g('stopped')
      break
    case 'restart-started':
      g(
        `rolling restart to generation ${e.generation} (${e.reason}${e.files ? `: ${e.files.slice(0, 3).join(', ')}${e.files.length > 3 ? '...' : ''}` : ''}): ${e.instances.join(', ') || 'no tcp instance'}`,
      )
      break
    case 'restart-retrying':
      g(
        `${e.instance} generation ${e.generation} attempt ${e.attempt}/${e.attempts} failed: ${e.reason}; retrying in ${seconds(e.inMs)}`,
      )
      break
    case 'restart-switched':
      g(`${e.instance}: new connections go to generation ${e.to} (port ${e.port}); generation ${e.from} drains`)
      break
    case 'restart-completed':
      g(
        `rolling restart to generation ${e.generation} done in ${seconds(e.durationMs)}` +
          (e.failed.length > 0 ? `; FAILED for ${e.failed.join(', ')} (their previous generation keeps serving)` : ''),
      )
      break
    case 'instance-stopping':
      g(
        `SIGTERM to ${e.instance} generation ${e.generation} (pid ${e.pid}); SIGKILL in ${seconds(e.graceMs)} if still running`,
      )
      break
    case 'chaos-restart':
      g(`chaos: restarting ${e.instance} (generation ${e.generation}) as the platform's scheduler may at any moment`)
      break
    // one per connection: dropped with instance output when stdout is not read
    case 'connection-opened':
      if (options.connections)
        printer.line('gateway', `connection #${e.id} from ${e.client} -> ${e.instance}`, 'gateway', false)
      break
    case 'connection-closed':
      if (options.connections) {
        printer.line(
          'gateway',
          `connection #${e.id} on ${e.instance} closed (${e.reason}) after ${e.durationMs} ms, in ${formatBytes(e.bytesIn)}, out ${formatBytes(e.bytesOut)}`,
          'gateway',
          false,
        )
      }

      break
    default:
      break
  }
}

/**
 * How long the last lines get to reach stdout's reader once everything has stopped. A reader that
 * took nothing for 2 s has stopped reading: it must not keep tcp:proxy from exiting, whose SIGTERM
 * promise is "stopped within --grace and a few seconds".
 */
export const FINAL_FLUSH_MS = 2000

/** --json events dropped first when stdout is not read: one per line of instance output, or per connection. */
const DROPPABLE_EVENTS = new Set<string>(['output', 'connection-opened', 'connection-closed', 'client-queued'])

/**
 * Everything tcp:proxy writes to stdout: events as prefixed log lines, or as NDJSON with --json (the
 * interface tests and scripts use), each with its time. All of it goes through one OutputWriter, so a
 * reader that falls behind costs bounded memory and never slows the app or the gateway: lines beyond
 * the bound are dropped, and a line (an `output-dropped` event with --json) says how many.
 */
export class ProxyOutput {
  private readonly writer: OutputWriter
  private readonly printer: LogPrinter

  constructor(
    stream: NodeJS.WriteStream,
    private readonly options: {json?: boolean; noColor?: boolean; timestamps?: boolean; connections?: boolean},
  ) {
    this.writer = new OutputWriter(stream, {droppedNotice: (count) => this.droppedNotice(count)})
    this.printer = new LogPrinter(this.writer, theme(stream, {noColor: options.noColor, json: options.json}), {
      timestamps: options.timestamps,
    })
  }

  /** Aligns the prefix column on the longest instance name from the first line. */
  registerInstances(formation: {type: string; count: number}[]): void {
    this.printer.register(formation.flatMap((p) => Array.from({length: p.count}, (_, i) => `${p.type}-${i + 1}`)))
  }

  event(e: ProxyEvent): void {
    if (this.options.json) this.json(e, !DROPPABLE_EVENTS.has(e.event))
    else printProxyEvent(this.printer, e, {connections: Boolean(this.options.connections)})
  }

  /** The status page URL is the one place the control token is ever shown: the user needs it to open the page. */
  control({url, pageUrl}: {url: string; pageUrl: string}): void {
    if (this.options.json) {
      this.json({event: 'control-listening', url})
      this.json({event: 'status-page', url: pageUrl})
    } else {
      this.printer.line('gateway', `control interface on ${url} (its token is in ${STATE_FILE_NAME})`, 'gateway')
      this.printer.line('gateway', `status page on ${pageUrl}`, 'gateway')
    }
  }

  /** Called once with stdout's first write error (EPIPE, EIO, ENOSPC...); stdout is not written again. */
  onFailed(listener: (error: NodeJS.ErrnoException) => void): void {
    this.writer.once('failed', listener)
  }

  /** Resolves true once everything is written out, false when stdout failed or did not take it in `timeoutMs`. */
  finish(timeoutMs = FINAL_FLUSH_MS): Promise<boolean> {
    return this.writer.finish(timeoutMs)
  }

  private droppedNotice(count: number): string {
    if (this.options.json) return this.jsonLine({event: 'output-dropped', lines: count})
    const text = `${count} line(s) of output dropped: stdout was not read fast enough (more than ${formatBytes(PENDING_OUTPUT_LIMIT)} waited)`
    return this.printer.format('gateway', text, 'gateway')
  }

  private json(e: JsonEvent, keep = true): void {
    this.writer.write(() => this.jsonLine(e), keep)
  }

  private jsonLine(e: JsonEvent): string {
    return JSON.stringify({time: new Date().toISOString(), ...e}) + '\n'
  }
}

/** The transport in the first line: the native relay, net.Socket by choice, or net.Socket as the fallback, why and the fix. */
function transportLabel(e: {transport: string; transportFallback?: string}): string {
  if (e.transport === 'native') return 'native relay'
  if (!e.transportFallback) return 'net.Socket transport'
  return `net.Socket transport: ${e.transportFallback}; for the native relay run \`npm rebuild -g scalingo-tcp\` (docs/tcp-proxy.md#transports)`
}
