/**
 * The status page: one self-contained document (inline CSS and JS allowed by a per-response nonce,
 * no external resource, no framework, no build step). Everything that comes from the gateway is put
 * into the DOM with textContent or as a class from a fixed list, never parsed as HTML.
 */

const STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --text: #1d2330; --muted: #667085; --line: #e3e6eb;
  --accent: #3455db; --ok: #12805c; --ok-bg: #dcf5ea; --warn: #a15c00; --warn-bg: #fff1d6; --bad: #b42318; --bad-bg: #fde4e1;
  --info: #2f5fa7; --info-bg: #e1ecfb; --idle: #5f6b7a; --idle-bg: #eceff3; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171c; --card: #1d2129; --text: #e6e9ef; --muted: #98a2b3; --line: #2c323c;
  --accent: #7c9cff; --ok: #4fd1a1; --ok-bg: #163a2e; --warn: #ffc266; --warn-bg: #3d2f14; --bad: #ff8a80; --bad-bg: #45201d;
  --info: #8fb6ff; --info-bg: #1c2d4a; --idle: #a7b0bd; --idle-bg: #2a3039; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 24px; margin-bottom: 20px; }
h1 { font-size: 20px; margin: 0; font-weight: 650; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 24px 0 8px; font-weight: 600; }
.ident { display: flex; flex-direction: column; gap: 2px; flex: 1 1 auto; min-width: 260px; }
.sub { color: var(--muted); }
code { font: 13px/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--idle-bg); padding: 2px 6px; border-radius: 4px; }
.live { display: inline-flex; align-items: center; gap: 6px; color: var(--muted); font-size: 13px; }
.live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--idle); }
.live.on::before { background: var(--ok); }
.live.off::before { background: var(--bad); }
button { font: inherit; font-weight: 600; color: #fff; background: var(--accent); border: 0; border-radius: 6px; padding: 8px 16px; cursor: pointer; }
button:disabled { opacity: .55; cursor: default; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.card .value { font-size: 22px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .detail { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 8px 12px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--idle-bg); }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
tbody tr:last-child td { border-bottom: 0; }
td.empty { text-align: center; color: var(--muted); padding: 20px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; color: var(--idle); background: var(--idle-bg); }
.state-ready { color: var(--ok); background: var(--ok-bg); }
.state-booting { color: var(--warn); background: var(--warn-bg); }
.state-draining { color: var(--info); background: var(--info-bg); }
.state-crashed, .state-failed { color: var(--bad); background: var(--bad-bg); }
.type { color: var(--muted); font-size: 12px; margin-left: 6px; }
.muted { color: var(--muted); }
#restart-panel { padding: 12px 16px; margin-top: 12px; }
#restart-panel[hidden] { display: none; }
.bar { height: 6px; border-radius: 3px; background: var(--idle-bg); margin-top: 8px; overflow: hidden; }
.bar > div { height: 100%; width: 0; background: var(--accent); transition: width .3s; }
#restart-panel.error .bar > div { background: var(--bad); }
#restart-panel.done .bar > div { background: var(--ok); }
#events { list-style: none; margin: 0; padding: 4px 0; max-height: 260px; overflow: auto; font-size: 13px; }
#events li { padding: 3px 16px; display: flex; gap: 12px; }
#events time { color: var(--muted); font-variant-numeric: tabular-nums; flex: none; }
#events li.bad { color: var(--bad); }
`

const SCRIPT = `
'use strict'
const token = new URLSearchParams(location.search).get('token') || ''
const byId = (id) => document.getElementById(id)
const STATES = ['booting', 'ready', 'draining', 'crashed', 'stopped', 'failed']
const baselines = new Map()
const rates = new Map()
let lastStatus = null
let restart = null

function el(tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = String(text)
  return node
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i]
}

function rate(n) {
  return n === undefined ? '—' : bytes(Math.round(n)) + '/s'
}

function duration(ms) {
  if (!ms) return '—'
  const s = Math.floor(ms / 1000)
  if (s < 60) return s + 's'
  if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's'
  const h = Math.floor(s / 3600)
  return h < 48 ? h + 'h ' + String(Math.floor(s / 60) % 60).padStart(2, '0') + 'm' : Math.floor(h / 24) + 'd ' + (h % 24) + 'h'
}

function clock(time) {
  return new Date(time).toLocaleTimeString([], {hour12: false})
}

// Throughput from successive samples, over at least ~1 s: the stream also sends samples a few ms apart.
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
    rates.set(key, {in: (i.bytesIn - base.bytesIn) * 1000 / elapsed, out: (i.bytesOut - base.bytesOut) * 1000 / elapsed})
    baselines.set(key, {time, bytesIn: i.bytesIn, bytesOut: i.bytesOut})
  }
  for (const key of [...baselines.keys()]) if (!seen.has(key)) { baselines.delete(key); rates.delete(key) }
}

function cell(text, className) {
  return el('td', className, text)
}

function renderInstances(instances) {
  const rows = instances.slice().sort((a, b) =>
    a.type.localeCompare(b.type) || a.name.localeCompare(b.name, undefined, {numeric: true}) || a.generation - b.generation)
  const body = byId('instances')
  if (rows.length === 0) {
    const td = cell('No instance yet.', 'empty')
    td.colSpan = 11
    const tr = el('tr')
    tr.append(td)
    body.replaceChildren(tr)
    return
  }
  body.replaceChildren(...rows.map((i) => {
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
      name, state,
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
  }))
}

function renderTotals(status) {
  const tcp = status.instances.filter((i) => i.type !== 'web')
  const ready = tcp.filter((i) => i.state === 'ready').length
  byId('ready').textContent = ready + ' / ' + tcp.length
  byId('ready-detail').textContent = status.restarting ? 'rolling restart in progress' : tcp.length === 1 ? '1 instance behind the gateway' : tcp.length + ' instances behind the gateway'
  byId('active').textContent = String(status.connections.active)
  byId('active-detail').textContent = status.connections.total + ' since start'
  let inRate = 0, outRate = 0, measured = false, bytesIn = 0, bytesOut = 0
  for (const i of status.instances) {
    bytesIn += i.bytesIn
    bytesOut += i.bytesOut
    const r = rates.get(i.name + '#' + i.generation)
    if (r) { measured = true; inRate += r.in; outRate += r.out }
  }
  byId('throughput').textContent = measured ? rate(inRate + outRate) : '—'
  byId('throughput-detail').textContent = 'in ' + rate(measured ? inRate : undefined) + ' · out ' + rate(measured ? outRate : undefined)
  byId('bytes').textContent = bytes(bytesIn + bytesOut)
  byId('bytes-detail').textContent = 'in ' + bytes(bytesIn) + ' · out ' + bytes(bytesOut) + ' (current instances)'
}

function onStatus(sample) {
  const status = sample.status
  lastStatus = status
  document.title = status.app + ' · scalingo-tcp status'
  byId('app').textContent = status.app
  byId('tcp-url').textContent = status.tcpUrl
  updateRates(sample.time, status.instances)
  renderInstances(status.instances)
  renderTotals(status)
  byId('restart').disabled = status.restarting || (restart !== null && !restart.finished)
}

function describe(e) {
  const gen = e.generation !== undefined ? ' (generation ' + e.generation + ')' : ''
  switch (e.event) {
    case 'instance-starting': return e.instance + gen + ' starting, pid ' + e.pid + (e.port ? ', port ' + e.port : '')
    case 'instance-ready': return e.instance + gen + ' ready on port ' + e.port + ' after ' + e.bootMs + ' ms'
    case 'instance-boot-failed': return e.instance + gen + ' failed to boot: ' + e.reason
    case 'instance-exited': return e.instance + gen + ' exited (' + (e.signal || 'code ' + e.code) + ')' + (e.expected ? '' : ': crashed')
    case 'instance-restarting': return e.instance + ' restarting in ' + e.inMs + ' ms after ' + e.crashes + ' crash(es)'
    case 'instance-gave-up': return e.instance + ' given up after ' + e.crashes + ' crashes'
    case 'instance-stopping': return e.instance + gen + ' stopping (SIGTERM, ' + Math.round(e.graceMs / 1000) + ' s grace)'
    case 'connections-dropped': return e.count + ' connection(s) of ' + e.instance + gen + ' dropped (' + e.mode + ')'
    case 'upstream-ready': return e.instance + ' ready at ' + e.host + ':' + e.port
    case 'restart-started': return 'Rolling restart to generation ' + e.generation + ' (' + e.reason + ')'
    case 'restart-retrying': return e.instance + gen + ' retrying, attempt ' + e.attempt + '/' + e.attempts + ': ' + e.reason
    case 'restart-switched': return e.instance + ' switched to generation ' + e.to + ' in ' + e.switchMs + ' ms'
    case 'restart-completed': return 'Rolling restart to generation ' + e.generation + ' complete in ' + (e.durationMs / 1000).toFixed(1) + ' s' + (e.failed.length ? '; failed: ' + e.failed.join(', ') : '')
    case 'chaos-restart': return 'Chaos: restarting ' + e.instance + gen
    case 'shutdown': return 'Gateway shutting down (' + e.reason + ')'
    case 'stopped': return 'Gateway stopped'
    default: return e.event
  }
}

const BAD = ['instance-boot-failed', 'instance-gave-up', 'connections-dropped']

function onProxyEvent(e) {
  const li = el('li', BAD.includes(e.event) || (e.event === 'instance-exited' && !e.expected) ? 'bad' : '')
  li.append(el('time', '', clock(e.time)), el('span', '', describe(e)))
  const list = byId('events')
  byId('no-events')?.remove()
  list.prepend(li)
  while (list.children.length > 50) list.lastElementChild.remove()
  followRestart(e)
  if (e.event === 'stopped' || e.event === 'shutdown') setLive('off', 'gateway stopped')
}

function showRestart(text, fraction, outcome) {
  const panel = byId('restart-panel')
  panel.hidden = false
  panel.className = 'panel' + (outcome ? ' ' + outcome : '')
  byId('restart-text').textContent = text
  byId('restart-bar').style.width = Math.round(Math.max(0, Math.min(1, fraction)) * 100) + '%'
}

function followRestart(e) {
  if (e.event === 'restart-started') {
    restart = {generation: e.generation, instances: e.instances, switched: [], finished: false, operation: restart && !restart.finished ? restart.operation : undefined}
    showRestart('Rolling restart to generation ' + e.generation + ': starting ' + e.instances.join(', ') + '…', 0.05)
  } else if (restart && !restart.finished && e.event === 'restart-switched') {
    restart.switched.push(e.instance)
    const total = restart.instances.length || 1
    showRestart('Rolling restart to generation ' + restart.generation + ': ' + restart.switched.length + ' of ' + total + ' switched (' + restart.switched.join(', ') + '), old generation draining…', 0.1 + 0.8 * restart.switched.length / total)
  } else if (restart && !restart.finished && e.event === 'restart-retrying') {
    showRestart('Rolling restart to generation ' + restart.generation + ': ' + e.instance + ' not ready yet, attempt ' + e.attempt + ' of ' + e.attempts + '; the old generation keeps serving.', 0.1 + 0.8 * restart.switched.length / (restart.instances.length || 1))
  } else if (e.event === 'restart-completed') {
    finishRestart(e.failed.length === 0, 'Rolling restart to generation ' + e.generation + (e.failed.length ? ' failed for ' + e.failed.join(', ') + ': the previous generation keeps serving.' : ' complete in ' + (e.durationMs / 1000).toFixed(1) + ' s.'))
  }
}

function finishRestart(ok, text) {
  if (restart) restart.finished = true
  showRestart(text, 1, ok ? 'done' : 'error')
  byId('restart').disabled = Boolean(lastStatus && lastStatus.restarting)
}

async function api(path, init) {
  const headers = {Authorization: 'Bearer ' + token}
  const res = await fetch(path, Object.assign({}, init, {headers, cache: 'no-store'}))
  if (res.status === 401) throw new Error('the token was refused: open the URL tcp:proxy printed')
  return res
}

async function requestRestart() {
  byId('restart').disabled = true
  restart = {generation: undefined, instances: [], switched: [], finished: false}
  showRestart('Requesting a rolling restart…', 0.02)
  try {
    const res = await api('/v1/restart', {method: 'POST'})
    if (res.status !== 202) throw new Error('the gateway answered ' + res.status)
    const path = new URL(res.headers.get('Location'), location.href).pathname
    restart.operation = path
    for (;;) {
      const operation = (await (await api(path)).json()).operation
      if (operation.status === 'pending' && !restart.generation) showRestart('Waiting for the restart already running to finish…', 0.02)
      if (operation.status === 'done' || operation.status === 'error') {
        if (!restart.finished || operation.status === 'error') {
          const report = operation.report
          finishRestart(operation.status === 'done', operation.status === 'done'
            ? 'Rolling restart to generation ' + report.generation + ' complete in ' + (report.durationMs / 1000).toFixed(1) + ' s.'
            : 'Rolling restart failed: ' + operation.error)
        }
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  } catch (error) {
    finishRestart(false, 'Rolling restart could not be followed: ' + error.message)
  }
}

function setLive(state, text) {
  const live = byId('live')
  live.className = 'live ' + state
  live.textContent = text
}

function connect() {
  const source = new EventSource('/v1/events?token=' + encodeURIComponent(token))
  source.addEventListener('open', () => setLive('on', 'live'))
  source.addEventListener('error', () => setLive('off', source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…'))
  source.addEventListener('status', (message) => onStatus(JSON.parse(message.data)))
  source.addEventListener('proxy', (message) => onProxyEvent(JSON.parse(message.data)))
}

byId('restart').addEventListener('click', () => void requestRestart())
connect()
`

export function renderStatusPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>scalingo-tcp status</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<main>
  <header>
    <div class="ident">
      <h1>Local gateway · <span id="app">…</span></h1>
      <div class="sub">TCP_URL <code id="tcp-url">…</code> <span id="live" class="live">connecting…</span></div>
    </div>
    <button id="restart" type="button" disabled>Rolling restart</button>
  </header>
  <section class="cards" aria-label="Gateway totals">
    <div class="card"><div class="label">Ready instances</div><div class="value" id="ready">—</div><div class="detail" id="ready-detail"></div></div>
    <div class="card"><div class="label">Active connections</div><div class="value" id="active">—</div><div class="detail" id="active-detail"></div></div>
    <div class="card"><div class="label">Throughput</div><div class="value" id="throughput">—</div><div class="detail" id="throughput-detail"></div></div>
    <div class="card"><div class="label">Bytes</div><div class="value" id="bytes">—</div><div class="detail" id="bytes-detail"></div></div>
  </section>
  <div id="restart-panel" class="panel" hidden role="status"><span id="restart-text"></span><div class="bar"><div id="restart-bar"></div></div></div>
  <h2>Instances</h2>
  <div class="panel">
    <table>
      <thead><tr><th>Instance</th><th>State</th><th>Gen</th><th>PID</th><th>Port</th><th>Uptime</th><th>Active</th><th>Total</th><th>Bytes in / out</th><th>Throughput in / out</th><th>Restarts</th></tr></thead>
      <tbody id="instances"><tr><td class="empty" colspan="11">Connecting to the gateway…</td></tr></tbody>
    </table>
  </div>
  <h2>Events</h2>
  <div class="panel"><ul id="events"><li id="no-events" class="muted">Instance starts, exits and restarts appear here as they happen.</li></ul></div>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`
}

export function renderUnauthorizedPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>Token required · scalingo-tcp</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">body { font: 15px/1.5 system-ui, sans-serif; max-width: 40em; margin: 15vh auto; padding: 0 24px; color-scheme: light dark; }</style>
</head>
<body>
<h1>401: token required</h1>
<p>This status page needs the token of the running <code>tcp:proxy</code>. Open the URL it printed at start-up
(<code>status page on http://127.0.0.1:…/?token=…</code>); the token is also in <code>.scalingo-tcp.json</code> in the app directory.</p>
</body>
</html>
`
}
