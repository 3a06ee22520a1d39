import {randomBytes} from 'node:crypto'
import type {ServerResponse} from 'node:http'

import type {ProxyEvent} from '../contract.js'
import {redact} from '../secrets.js'
import type {ControlServer, RouteContext} from './server.js'
import {renderStatusPage, renderUnauthorizedPage} from './status-page-html.js'

/** Where the status page hears about instances starting, crashing and restarting (LocalApp is one). */
export interface ProxyEventSource {
  on(event: 'event', listener: (e: ProxyEvent) => void): unknown
  off(event: 'event', listener: (e: ProxyEvent) => void): unknown
}

export interface StatusPageOptions {
  /** How often the stream sends a `status` sample when nothing happens (the page's throughput comes from these). */
  intervalMs?: number
}

/** Events that change an instance's state or a restart's progress: each sends a fresh `status` at once. */
const STATE_EVENTS = new Set<ProxyEvent['event']>([
  'instance-starting',
  'instance-ready',
  'instance-boot-failed',
  'instance-exited',
  'instance-restarting',
  'instance-gave-up',
  'instance-stopping',
  'connections-dropped',
  'upstream-ready',
  'restart-started',
  'restart-retrying',
  'restart-switched',
  'restart-completed',
  'chaos-restart',
  'shutdown',
  'stopped',
])
/** Connection events only bring the next `status` forward, at most this often, however busy the gateway. */
const CONNECTION_EVENTS = new Set<ProxyEvent['event']>(['connection-opened', 'connection-closed'])
const CONNECTION_STATUS_GAP_MS = 200

/** The page's address with its token: what tcp:proxy prints so the user can open it. */
export function statusPageUrl(server: ControlServer): string {
  return `${server.url}/?token=${encodeURIComponent(server.token)}`
}

/**
 * Adds the live status page to the control interface: `GET /` (and `/status`) serves a self-contained
 * HTML page, `GET /v1/events` a Server-Sent Events stream of `status` samples and the proxy's own
 * events. Both need the token like every other route (the page passes its `?token=` on).
 */
export function installStatusPage(
  server: ControlServer,
  events?: ProxyEventSource,
  options: StatusPageOptions = {},
): void {
  const servePage = ({res}: RouteContext) => sendPage(res, 200, renderStatusPage)
  const refusePage = (res: ServerResponse) => sendPage(res, 401, renderUnauthorizedPage)
  server.route('GET', '/', servePage, {unauthorized: refusePage})
  server.route('GET', '/status', servePage, {unauthorized: refusePage})
  server.route('GET', '/v1/events', (context) => streamEvents(context, events, options.intervalMs ?? 1000))
}

function sendPage(res: ServerResponse, status: number, render: (nonce: string) => string): void {
  const nonce = randomBytes(18).toString('base64')
  const html = render(nonce)
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(html)),
    'Content-Security-Policy': [
      "default-src 'self'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'Cache-Control': 'no-store',
    // The token is in the page's URL: no Referer may carry it anywhere.
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
  })
  res.end(html)
}

function streamEvents(
  {req, res, server}: RouteContext,
  events: ProxyEventSource | undefined,
  intervalMs: number,
): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Content-Type-Options': 'nosniff',
  })
  if (req.method === 'HEAD') {
    res.end()
    return
  }

  // A slow reader skips samples rather than making the gateway buffer them.
  let congested = false
  const send = (type: string, data: unknown) => {
    if (congested || res.writableEnded) return
    congested = !res.write(`event: ${type}\ndata: ${redact(JSON.stringify(data))}\n\n`)
  }

  res.on('drain', () => (congested = false))

  let pending: NodeJS.Immediate | undefined
  let lastStatusAt = 0
  let throttled: NodeJS.Timeout | undefined
  const sendStatus = () => {
    pending = undefined
    clearTimeout(throttled)
    throttled = undefined
    lastStatusAt = Date.now()
    try {
      send('status', {time: lastStatusAt, status: server.target.status()})
    } catch {
      // From a timer a throw would take the gateway down; the page reconnects and tries again instead.
      res.destroy()
    }
  }

  // setImmediate: the event is emitted before the app finishes updating what status() reports.
  const statusSoon = () => {
    pending ??= setImmediate(sendStatus)
  }

  const onEvent = (e: ProxyEvent) => {
    if (STATE_EVENTS.has(e.event)) {
      send('proxy', {time: Date.now(), ...e})
      statusSoon()
    } else if (CONNECTION_EVENTS.has(e.event) && !throttled && !pending) {
      throttled = setTimeout(statusSoon, Math.max(0, lastStatusAt + CONNECTION_STATUS_GAP_MS - Date.now()))
    }
  }

  const ticker = setInterval(sendStatus, intervalMs)
  events?.on('event', onEvent)
  res.write('retry: 2000\n\n')
  sendStatus()

  res.on('close', () => {
    clearInterval(ticker)
    clearTimeout(throttled)
    if (pending) clearImmediate(pending)
    events?.off('event', onEvent)
  })
}
