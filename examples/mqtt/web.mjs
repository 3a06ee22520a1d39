// The `web` process of the example app. Like a real web container, it has no direct link to the
// `tcp` containers: it reaches the broker through $TCP_URL, i.e. through the gateway.
import http from 'node:http'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {DEFAULT_TCP_URL, MqttClient, NotConnectedError} from './lib/client.mjs'
import {isValidTopicName} from './lib/mqtt.mjs'
import {containerLogger, readPort} from './lib/container.mjs'

const CONTAINER = process.env.CONTAINER || 'web'
const TCP_URL = process.env.TCP_URL || DEFAULT_TCP_URL
const GREETING = process.env.GREETING || 'hello'
const HISTORY_SIZE = 20
const MAX_BODY_BYTES = 64 * 1024
const PUBLISH_TIMEOUT_MS = 5_000

const log = containerLogger('web')


const history = []
const mqtt = new MqttClient({url: TCP_URL, clientId: `${CONTAINER}-${process.pid}`})
mqtt.on('subscribed', ({topics}) => log(`connected to ${TCP_URL}, subscribed to ${topics.join(', ')}`))
mqtt.on('reconnecting', ({attempt, delayMs, reason}) => {
  log(`broker connection: ${reason}; reconnecting to ${TCP_URL} in ${delayMs} ms (attempt ${attempt})`)
})
mqtt.on('error', (error) => log(`broker connection: ${error.message}`))
mqtt.on('message', (topic, payload, {retain}) => {
  history.unshift({at: new Date(), topic, message: payload.toString('utf8'), retain})
  history.length = Math.min(history.length, HISTORY_SIZE)
})
mqtt.subscribe('#').catch(() => {})
mqtt.connect().catch(() => {})

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}

function renderPage() {
  const rows = history
    .map(
      ({at, topic, message, retain}) =>
        `<tr><td>${at.toISOString().slice(11, 19)}</td><td><code>${escapeHtml(topic)}</code></td><td>${escapeHtml(message)}</td><td>${retain ? 'retained' : ''}</td></tr>`,
    )
    .join('\n')
  const status = mqtt.connected ? `connected to <code>${escapeHtml(TCP_URL)}</code>` : `reconnecting to <code>${escapeHtml(TCP_URL)}</code>...`
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>MQTT example</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}</style>
</head>
<body>
<h1>${escapeHtml(GREETING)}</h1>
<p>Web container <code>${escapeHtml(CONTAINER)}</code>, broker ${status}</p>
<form method="post" action="/publish">
  <input name="topic" placeholder="topic" value="sensors/web/demo" required>
  <input name="message" placeholder="message" required>
  <label><input type="checkbox" name="retain" value="1"> retain</label>
  <button>Publish</button>
</form>
<h2>Last ${HISTORY_SIZE} messages on <code>#</code> (<a href="/">refresh</a>)</h2>
<table><thead><tr><th>time</th><th>topic</th><th>message</th><th></th></tr></thead>
<tbody>
${rows || '<tr><td colspan="4">No message yet.</td></tr>'}
</tbody></table>
</body>
</html>
`
}

function send(response, status, body, headers = {}) {
  const isJson = typeof body === 'object'
  response.writeHead(status, {
    'content-type': isJson ? 'application/json' : headers['content-type'] ?? 'text/plain; charset=utf-8',
    ...headers,
  })
  response.end(isJson ? `${JSON.stringify(body)}\n` : body)
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    request.on('data', (chunk) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error(`body larger than ${MAX_BODY_BYTES} bytes`), {status: 413}))
        request.destroy()
        return
      }

      chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

function badRequest(message, status = 400) {
  return Object.assign(new Error(message), {status})
}

async function parsePublishRequest(request) {
  const contentType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  const body = await readBody(request)
  let fields
  if (contentType === 'application/json') {
    try {
      fields = JSON.parse(body)
    } catch {
      throw badRequest('body is not valid JSON')
    }

    if (typeof fields !== 'object' || fields === null) throw badRequest('expected a JSON object {topic, message}')
  } else if (contentType === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(body)
    fields = {topic: form.get('topic'), message: form.get('message'), retain: form.get('retain') === '1'}
  } else {
    throw badRequest('send application/json or application/x-www-form-urlencoded', 415)
  }

  const {topic, message, retain = false} = fields
  if (!isValidTopicName(topic)) throw badRequest('"topic" must be a non-empty topic name without + or #')
  if (typeof message !== 'string') throw badRequest('"message" must be a string')
  return {topic, message, retain: retain === true, form: contentType !== 'application/json'}
}

async function publish(request, response) {
  const {topic, message, retain, form} = await parsePublishRequest(request)
  let timer
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(badRequest(`the broker did not acknowledge within ${PUBLISH_TIMEOUT_MS} ms`, 504)), PUBLISH_TIMEOUT_MS)
  })
  try {
    await Promise.race([mqtt.publish(topic, message, {qos: 1, retain}), timeout])
  } catch (error) {
    if (error instanceof NotConnectedError) throw badRequest(`the broker at ${TCP_URL} is not reachable right now, try again`, 503)
    throw error
  } finally {
    clearTimeout(timer)
  }

  if (form) send(response, 303, '', {location: '/'})
  else send(response, 200, {ok: true, topic, message, retain})
}

async function route(request, response) {
  const {pathname} = new URL(request.url, 'http://localhost')
  const routes = {
    '/': {GET: () => send(response, 200, renderPage(), {'content-type': 'text/html; charset=utf-8'})},
    '/health': {GET: () => send(response, 200, 'ok')},
    '/publish': {POST: () => publish(request, response)},
  }
  const methods = routes[pathname]
  if (!methods) return send(response, 404, {error: `no route for ${pathname}`})
  const handler = methods[request.method]
  if (!handler) return send(response, 405, {error: `${request.method} not allowed on ${pathname}`}, {allow: Object.keys(methods).join(', ')})
  await handler()
}

const port = readPort('web', '`PORT=5000 node web.mjs`')
const server = http.createServer((request, response) => {
  route(request, response).catch((error) => {
    if (response.headersSent) return response.destroy()
    send(response, error.status ?? 500, {error: error.message})
  })
})
server.on('error', (error) => {
  process.stderr.write(`[${CONTAINER}] cannot listen on 0.0.0.0:${port}: ${error.message}\n`)
  process.exit(1)
})
server.listen(port, '0.0.0.0', () => {
  log(`listening on ${server.address().port} (${GREETING})`)
  if (CONTAINER === 'web-1') printTryIt(server.address().port)
})

// The first thing a new user needs: where to look and how to talk to the broker through the gateway.
function printTryIt(webPort) {
  const client = path.relative(process.env.INIT_CWD || process.cwd(), fileURLToPath(new URL('client.mjs', import.meta.url)))
  const env = TCP_URL === DEFAULT_TCP_URL ? '' : `TCP_URL=${TCP_URL} `
  log(`try it: open http://127.0.0.1:${webPort}, or in another terminal:`)
  log(`  ${env}node ${client} sub 'sensors/#'`)
  log(`  ${env}node ${client} pub sensors/kitchen 21.5`)
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    log(`${signal} received: stopping`)
    server.close()
    server.closeIdleConnections()
    await mqtt.end()
    process.exit(0)
  })
}
