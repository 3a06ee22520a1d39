// The `web` process. Like a real web container it has no direct link to the `tcp` containers: it reaches the
// broker through $TCP_URL, i.e. through the gateway.
import {EventEmitter, once} from 'node:events'
import http from 'node:http'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import mqtt from 'mqtt'

const {CONTAINER = 'web', GREETING = 'hello', PORT, TCP_URL = 'tcp://127.0.0.1:20003'} = process.env
const log = (line) => console.log(`[${CONTAINER}] ${line}`)
if (!PORT) {
  console.error(
    `[${CONTAINER}] PORT is not set: run the app with \`scalingo-tcp tcp:proxy\`, or \`PORT=5000 node web.mjs\`.`,
  )
  process.exit(1)
}

const history = [] // the last 20 messages seen on '#'
// 'subscribed' ('#' granted on a new connection) and 'seen <topic>\0<message>', for the POSTs waiting on them.
const news = new EventEmitter().setMaxListeners(0)
const within = (ms, event) =>
  once(news, event, {signal: AbortSignal.timeout(ms)}).then(
    () => true,
    () => false,
  )
let subscribed = false // '#' granted on the current connection: what this process publishes comes back to it
const broker = mqtt.connect(TCP_URL, {
  clientId: `${CONTAINER}-${process.pid}`,
  reconnectPeriod: 500,
  resubscribe: false,
})
// A new connection is a new session (after a restart it is a new broker): subscribe on each.
broker.on('connect', () =>
  broker.subscribe('#', (error) => {
    if (error) return log(`broker connection: cannot subscribe to #: ${error.message}`)
    log(`connected to ${TCP_URL}, subscribed to #`)
    subscribed = true
    news.emit('subscribed')
  }),
)
broker.on('close', () => (subscribed = false))
broker.on('reconnect', () => log(`broker connection lost; reconnecting to ${TCP_URL}`))
broker.on('error', (error) => log(`broker connection: ${error.message}`))
broker.on('message', (topic, payload, {retain}) => {
  history.unshift({at: new Date().toISOString().slice(11, 19), topic, message: String(payload), retain})
  history.length = Math.min(history.length, 20)
  news.emit(`seen ${topic}\0${payload}`)
})

const escape = (value) => String(value).replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
const page = () => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MQTT example</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto}td{border-bottom:1px solid #ddd;padding:.3rem}</style></head>
<body><h1>${escape(GREETING)}</h1>
<p>Web container <code>${escape(CONTAINER)}</code>, broker ${broker.connected ? 'connected to' : 'reconnecting to'} <code>${escape(TCP_URL)}</code></p>
<form method="post" action="/publish"><input name="topic" value="sensors/web/demo" required> <input name="message" placeholder="message" required>
<label><input type="checkbox" name="retain" value="1"> retain</label> <button>Publish</button></form>
<h2>Last 20 messages on <code>#</code> (<a href="/">refresh</a>)</h2><table>
${history.map((m) => `<tr><td>${m.at}</td><td><code>${escape(m.topic)}</code></td><td>${escape(m.message)}</td><td>${m.retain ? 'retained' : ''}</td></tr>`).join('\n') || '<tr><td>No message yet.</td></tr>'}
</table></body></html>\n`

const fail = (status, error) => Object.assign(new Error(error), {status})

async function publish(request) {
  let body = ''
  request.setEncoding('utf8')
  for await (const chunk of request) if ((body += chunk).length > 65_536) throw fail(413, 'body larger than 64 KiB')
  const type = (request.headers['content-type'] ?? '').split(';')[0].trim()
  let fields
  if (type === 'application/json') {
    try {
      fields = JSON.parse(body)
    } catch {
      throw fail(400, 'body is not valid JSON')
    }
  } else if (type === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(body)
    fields = {topic: form.get('topic'), message: form.get('message'), retain: form.get('retain') === '1'}
  } else throw fail(415, 'send application/json or application/x-www-form-urlencoded')
  const {topic, message, retain = false} = fields ?? {}
  if (typeof topic !== 'string' || !topic || /[+#\0]/.test(topic))
    throw fail(400, '"topic" must be a non-empty topic name without + or #')
  if (typeof message !== 'string') throw fail(400, '"message" must be a string')
  // Just after start-up or a restart the connection may be on its way: wait for it rather than refuse.
  if (!subscribed && !(await within(5000, 'subscribed')))
    throw fail(503, `the broker at ${TCP_URL} is not reachable right now, try again`)
  // aedes sends PUBACK before it routes the message, so the copy for our own '#' arrives just after the
  // acknowledgement: answer once both are in, so that the page a form POST redirects to lists the message.
  const echoed = within(5000, `seen ${topic}\0${message}`)
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(fail(504, 'the broker did not acknowledge within 5000 ms')), 5000)
    broker.publish(
      topic,
      message,
      {qos: 1, retain: retain === true},
      (error) => (clearTimeout(timer), error ? reject(error) : resolve()),
    )
  })
  // Acknowledged by a new broker before '#' was granted on it (sent again after a reconnect): no copy will come.
  if (subscribed) await echoed
  return type === 'application/json'
    ? [200, {ok: true, topic, message, retain: retain === true}]
    : [303, '', {location: '/'}]
}

const routes = {
  'GET /': () => [200, page(), {'content-type': 'text/html; charset=utf-8'}],
  'GET /health': () => [200, 'ok'],
  'POST /publish': publish,
}

const server = http.createServer(async (request, response) => {
  const {pathname} = new URL(request.url, 'http://localhost')
  const route = routes[`${request.method} ${pathname}`]
  const known = Object.keys(routes).some((key) => key.endsWith(` ${pathname}`))
  let [status, body, headers] = [404, {error: `no route for ${pathname}`}]
  if (known && !route) [status, body] = [405, {error: `${request.method} not allowed on ${pathname}`}]
  if (route)
    [status, body, headers] = await Promise.resolve(route(request)).catch((error) => [
      error.status ?? 500,
      {error: error.message},
    ])
  const json = typeof body === 'object'
  response.writeHead(status, {'content-type': json ? 'application/json' : 'text/plain; charset=utf-8', ...headers})
  response.end(json ? `${JSON.stringify(body)}\n` : body)
})
server.listen(Number(PORT), '0.0.0.0', () => {
  log(`listening on ${server.address().port} (${GREETING})`)
  if (CONTAINER !== 'web-1') return
  // The first thing a new user needs: where to look and how to talk to the broker through the gateway.
  const client = path.relative(
    process.env.INIT_CWD || process.cwd(),
    fileURLToPath(new URL('client.mjs', import.meta.url)),
  )
  const env = TCP_URL === 'tcp://127.0.0.1:20003' ? '' : `TCP_URL=${TCP_URL} `
  log(`try it: open http://127.0.0.1:${server.address().port}, or in another terminal:`)
  log(`  ${env}node ${client} sub 'sensors/#'`)
  log(`  ${env}node ${client} pub sensors/kitchen 21.5`)
})

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    log(`${signal} received: stopping`)
    server.close()
    server.closeIdleConnections()
    broker.end(() => process.exit(0))
  })
}
