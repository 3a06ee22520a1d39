// @ts-check
// The status page's script, inlined into page.html by the build (scripts/inline-status-page.js) under a
// per-response CSP nonce. Everything from the gateway reaches the DOM through textContent, never as HTML.
'use strict'
const token = new URLSearchParams(location.search).get('token') || ''
/**
 * @typedef {{name: string, type: string, generation: number, state: string, pid?: number, port?: number, uptimeMs: number,
 *   active: number, total: number, bytesIn: number, bytesOut: number, restarts: number}} InstanceStatus
 * @typedef {{app: string, tcpUrl: string, restarting: boolean, instances: InstanceStatus[],
 *   connections: {active: number, total: number}}} LocalStatus
 * @typedef {{event: string, time: string, [field: string]: any}} ProxyEvent
 * @typedef {{generation?: number, instances: string[], switched: string[], finished: boolean, operation?: string}} RestartProgress
 */

/**
 * The element the page's markup (page.html) always has.
 * @template {HTMLElement} [E=HTMLElement]
 * @param {string} id
 * @returns {E}
 */
const byId = (id) => /** @type {E} */ (document.getElementById(id))
const STATES = ['booting', 'ready', 'draining', 'crashed', 'stopped', 'failed']
/** @type {Map<string, {time: number, bytesIn: number, bytesOut: number}>} */
const baselines = new Map()
/** @type {Map<string, {in: number, out: number}>} */
const rates = new Map()
/** @type {LocalStatus | null} */
let lastStatus = null
/** @type {RestartProgress | null} */
let restart = null

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {unknown} [text]
 */
function el(tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = String(text)
  return node
}

/** @param {number} n */
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i]
}

/** @param {number | undefined} n */
function rate(n) {
  return n === undefined ? '—' : bytes(Math.round(n)) + '/s'
}

/** @param {number} ms */
function duration(ms) {
  if (!ms) return '—'
  const s = Math.floor(ms / 1000)
  if (s < 60) return s + 's'
  if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's'
  const h = Math.floor(s / 3600)
  return h < 48
    ? h + 'h ' + String(Math.floor(s / 60) % 60).padStart(2, '0') + 'm'
    : Math.floor(h / 24) + 'd ' + (h % 24) + 'h'
}

/** @param {string | number} time */
function clock(time) {
  return new Date(time).toLocaleTimeString([], {hour12: false})
}

// Throughput from successive samples, over at least ~1 s: the stream also sends samples a few ms apart.
/**
 * @param {number} time
 * @param {InstanceStatus[]} instances
 */
function updateRates(time, instances) {
  const seen = new Set()
  for (const i of instances) {
    const key = i.name + '#' + i.generation
    seen.add(key)
    const base = baselines.get(key)
    if (!base || i.bytesIn < base.bytesIn || i.bytesOut < base.bytesOut) {
      baselines.set(key, {time, bytesIn: i.bytesIn, bytesOut: i.bytesOut})
      continue
    }
    const elapsed = time - base.time
    if (elapsed < 900) continue
    rates.set(key, {
      in: ((i.bytesIn - base.bytesIn) * 1000) / elapsed,
      out: ((i.bytesOut - base.bytesOut) * 1000) / elapsed,
    })
    baselines.set(key, {time, bytesIn: i.bytesIn, bytesOut: i.bytesOut})
  }
  for (const key of [...baselines.keys()])
    if (!seen.has(key)) {
      baselines.delete(key)
      rates.delete(key)
    }
}

/** @returns {HTMLButtonElement} */
const restartButton = () => byId('restart')

/**
 * @param {unknown} text
 * @param {string} [className]
 */
function cell(text, className) {
  return el('td', className, text)
}

/** @param {InstanceStatus[]} instances */
function renderInstances(instances) {
  const rows = instances
    .slice()
    .sort(
      (a, b) =>
        a.type.localeCompare(b.type) ||
        a.name.localeCompare(b.name, undefined, {numeric: true}) ||
        a.generation - b.generation,
    )
  const body = byId('instances')
  if (rows.length === 0) {
    const td = /** @type {HTMLTableCellElement} */ (cell('No instance yet.', 'empty'))
    td.colSpan = 11
    const tr = el('tr')
    tr.append(td)
    body.replaceChildren(tr)
    return
  }
  body.replaceChildren(
    ...rows.map((i) => {
      const r = rates.get(i.name + '#' + i.generation)
      const tr = el('tr')
      tr.dataset.instance = i.name
      tr.dataset.generation = String(i.generation)
      tr.dataset.state = i.state
      const name = cell(i.name, 'name')
      name.append(el('span', 'type', i.type))
      const state = cell('', 'state')
      state.append(el('span', 'badge state-' + (STATES.includes(i.state) ? i.state : 'unknown'), i.state))
      tr.append(
        name,
        state,
        cell(i.type === 'upstream' ? '—' : i.generation, 'generation'),
        cell(i.pid ?? '—', 'pid'),
        cell(i.port ?? '—', 'port'),
        cell(duration(i.uptimeMs), 'uptime'),
        cell(i.active, 'active'),
        cell(i.total, 'total'),
        cell(bytes(i.bytesIn) + ' / ' + bytes(i.bytesOut), 'bytes'),
        cell(rate(r && r.in) + ' / ' + rate(r && r.out), 'throughput'),
        cell(i.restarts, 'restarts'),
      )
      return tr
    }),
  )
}

/** @param {LocalStatus} status */
function renderTotals(status) {
  const tcp = status.instances.filter((i) => i.type !== 'web')
  const ready = tcp.filter((i) => i.state === 'ready').length
  byId('ready').textContent = ready + ' / ' + tcp.length
  byId('ready-detail').textContent = status.restarting
    ? 'rolling restart in progress'
    : tcp.length === 1
      ? '1 instance behind the gateway'
      : tcp.length + ' instances behind the gateway'
  byId('active').textContent = String(status.connections.active)
  byId('active-detail').textContent = status.connections.total + ' since start'
  let inRate = 0,
    outRate = 0,
    measured = false,
    bytesIn = 0,
    bytesOut = 0
  for (const i of status.instances) {
    bytesIn += i.bytesIn
    bytesOut += i.bytesOut
    const r = rates.get(i.name + '#' + i.generation)
    if (r) {
      measured = true
      inRate += r.in
      outRate += r.out
    }
  }
  byId('throughput').textContent = measured ? rate(inRate + outRate) : '—'
  byId('throughput-detail').textContent =
    'in ' + rate(measured ? inRate : undefined) + ' · out ' + rate(measured ? outRate : undefined)
  byId('bytes').textContent = bytes(bytesIn + bytesOut)
  byId('bytes-detail').textContent = 'in ' + bytes(bytesIn) + ' · out ' + bytes(bytesOut) + ' (current instances)'
}

/** @param {{time: number, status: LocalStatus}} sample */
function onStatus(sample) {
  const status = sample.status
  lastStatus = status
  document.title = status.app + ' · scalingo-tcp status'
  byId('app').textContent = status.app
  byId('tcp-url').textContent = status.tcpUrl
  updateRates(sample.time, status.instances)
  renderInstances(status.instances)
  renderTotals(status)
  restartButton().disabled = status.restarting || (restart !== null && !restart.finished)
}

/** @param {ProxyEvent} e */
function describe(e) {
  const gen = e.generation !== undefined ? ' (generation ' + e.generation + ')' : ''
  switch (e.event) {
    case 'instance-starting':
      return e.instance + gen + ' starting, pid ' + e.pid + (e.port ? ', port ' + e.port : '')
    case 'instance-ready':
      return e.instance + gen + ' ready on port ' + e.port + ' after ' + e.bootMs + ' ms'
    case 'instance-boot-failed':
      return e.instance + gen + ' failed to boot: ' + e.reason
    case 'instance-exited':
      return e.instance + gen + ' exited (' + (e.signal || 'code ' + e.code) + ')' + (e.expected ? '' : ': crashed')
    case 'instance-restarting':
      return e.instance + ' restarting in ' + e.inMs + ' ms after ' + e.crashes + ' crash(es)'
    case 'instance-gave-up':
      return e.instance + ' given up after ' + e.crashes + ' crashes'
    case 'instance-stopping':
      return e.instance + gen + ' stopping (SIGTERM, ' + Math.round(e.graceMs / 1000) + ' s grace)'
    case 'connections-dropped':
      return e.count + ' connection(s) of ' + e.instance + gen + ' dropped (' + e.mode + ')'
    case 'upstream-ready':
      return e.instance + ' ready at ' + (e.host.includes(':') ? '[' + e.host + ']' : e.host) + ':' + e.port
    case 'restart-started':
      return 'Rolling restart to generation ' + e.generation + ' (' + e.reason + ')'
    case 'restart-retrying':
      return e.instance + gen + ' retrying, attempt ' + e.attempt + '/' + e.attempts + ': ' + e.reason
    case 'restart-switched':
      return e.instance + ' switched to generation ' + e.to + ' in ' + e.switchMs + ' ms'
    case 'restart-completed':
      return (
        'Rolling restart to generation ' +
        e.generation +
        ' complete in ' +
        (e.durationMs / 1000).toFixed(1) +
        ' s' +
        (e.failed.length ? '; failed: ' + e.failed.join(', ') : '')
      )
    case 'chaos-restart':
      return 'Chaos: restarting ' + e.instance + gen
    case 'shutdown':
      return 'Gateway shutting down (' + e.reason + ')'
    case 'stopped':
      return 'Gateway stopped'
    default:
      return e.event
  }
}

const BAD = ['instance-boot-failed', 'instance-gave-up', 'connections-dropped']

/** @param {ProxyEvent} e */
function onProxyEvent(e) {
  const li = el('li', BAD.includes(e.event) || (e.event === 'instance-exited' && !e.expected) ? 'bad' : '')
  li.append(el('time', '', clock(e.time)), el('span', '', describe(e)))
  const list = byId('events')
  byId('no-events')?.remove()
  list.prepend(li)
  while (list.children.length > 50) list.lastElementChild?.remove()
  followRestart(e)
  if (e.event === 'stopped' || e.event === 'shutdown') setLive('off', 'gateway stopped')
}

/**
 * @param {string} text
 * @param {number} fraction
 * @param {'done' | 'error'} [outcome]
 */
function showRestart(text, fraction, outcome) {
  const panel = byId('restart-panel')
  panel.hidden = false
  panel.className = 'panel' + (outcome ? ' ' + outcome : '')
  byId('restart-text').textContent = text
  byId('restart-bar').style.width = Math.round(Math.max(0, Math.min(1, fraction)) * 100) + '%'
}

/** @param {ProxyEvent} e */
function followRestart(e) {
  if (e.event === 'restart-started') {
    restart = {
      generation: e.generation,
      instances: e.instances,
      switched: [],
      finished: false,
      operation: restart && !restart.finished ? restart.operation : undefined,
    }
    showRestart('Rolling restart to generation ' + e.generation + ': starting ' + e.instances.join(', ') + '…', 0.05)
  } else if (restart && !restart.finished && e.event === 'restart-switched') {
    restart.switched.push(e.instance)
    const total = restart.instances.length || 1
    showRestart(
      'Rolling restart to generation ' +
        restart.generation +
        ': ' +
        restart.switched.length +
        ' of ' +
        total +
        ' switched (' +
        restart.switched.join(', ') +
        '), old generation draining…',
      0.1 + (0.8 * restart.switched.length) / total,
    )
  } else if (restart && !restart.finished && e.event === 'restart-retrying') {
    showRestart(
      'Rolling restart to generation ' +
        restart.generation +
        ': ' +
        e.instance +
        ' not ready yet, attempt ' +
        e.attempt +
        ' of ' +
        e.attempts +
        '; the old generation keeps serving.',
      0.1 + (0.8 * restart.switched.length) / (restart.instances.length || 1),
    )
  } else if (e.event === 'restart-completed') {
    finishRestart(
      e.failed.length === 0,
      'Rolling restart to generation ' +
        e.generation +
        (e.failed.length
          ? ' failed for ' + e.failed.join(', ') + ': the previous generation keeps serving.'
          : ' complete in ' + (e.durationMs / 1000).toFixed(1) + ' s.'),
    )
  }
}

/**
 * @param {boolean} ok
 * @param {string} text
 */
function finishRestart(ok, text) {
  if (restart) restart.finished = true
  showRestart(text, 1, ok ? 'done' : 'error')
  restartButton().disabled = Boolean(lastStatus && lastStatus.restarting)
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 */
async function api(path, init) {
  const headers = {Authorization: 'Bearer ' + token}
  const res = await fetch(path, Object.assign({}, init, {headers, cache: 'no-store'}))
  if (res.status === 401) throw new Error('the token was refused: open the URL tcp:proxy printed')
  return res
}

async function requestRestart() {
  restartButton().disabled = true
  restart = {generation: undefined, instances: [], switched: [], finished: false}
  showRestart('Requesting a rolling restart…', 0.02)
  try {
    const res = await api('/v1/restart', {method: 'POST'})
    if (res.status !== 202) throw new Error('the gateway answered ' + res.status)
    const path = new URL(res.headers.get('Location') ?? '', location.href).pathname
    restart.operation = path
    for (;;) {
      const operation = (await (await api(path)).json()).operation
      if (operation.status === 'pending' && !restart.generation)
        showRestart('Waiting for the restart already running to finish…', 0.02)
      if (operation.status === 'done' || operation.status === 'error') {
        if (!restart.finished || operation.status === 'error') {
          const report = operation.report
          finishRestart(
            operation.status === 'done',
            operation.status === 'done'
              ? 'Rolling restart to generation ' +
                  report.generation +
                  ' complete in ' +
                  (report.durationMs / 1000).toFixed(1) +
                  ' s.'
              : 'Rolling restart failed: ' + operation.error,
          )
        }
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  } catch (error) {
    finishRestart(
      false,
      'Rolling restart could not be followed: ' + (error instanceof Error ? error.message : String(error)),
    )
  }
}

/**
 * @param {string} state
 * @param {string} text
 */
function setLive(state, text) {
  const live = byId('live')
  live.className = 'live ' + state
  live.textContent = text
}

function connect() {
  const source = new EventSource('/v1/events?token=' + encodeURIComponent(token))
  source.addEventListener('open', () => setLive('on', 'live'))
  source.addEventListener('error', () =>
    setLive('off', source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…'),
  )
  source.addEventListener('status', (message) => onStatus(JSON.parse(message.data)))
  source.addEventListener('proxy', (message) => onProxyEvent(JSON.parse(message.data)))
}

restartButton().addEventListener('click', () => void requestRestart())
connect()
