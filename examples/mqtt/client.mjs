#!/usr/bin/env node
// A command-line MQTT client (mqtt.js) for the example, reached through $TCP_URL like any client of a Scalingo
// app. Messages go to stdout, connection news to stderr.
import {parseArgs} from 'node:util'

const url = process.env.TCP_URL || 'tcp://127.0.0.1:20003'
const USAGE = `usage: node client.mjs sub [--id ID] <topic-filter>
       node client.mjs pub [--id ID] [--retain] [--qos 0|1] [--retries N] <topic> <message>

  sub   print every message matching <topic-filter> (wildcards + and #) as "<topic> <payload>"
  pub   publish <message> to <topic>; at QoS 1 (the default) exit once the broker has acknowledged it
        --retries N: reconnection attempts before giving up (default 5)

Connects to $TCP_URL (default tcp://127.0.0.1:20003) and reconnects when the connection drops.
Exit codes: 0 ok (sub: stopped by SIGTERM), 1 could not connect or publish, 2 usage error, 130 interrupted.`

function usage(message) {
  console.error(`error: ${message}\n\n${USAGE}`)
  process.exit(2)
}

let values, positionals
try {
  ;({values, positionals} = parseArgs({
    allowPositionals: true,
    options: {
      id: {type: 'string'},
      retain: {type: 'boolean', default: false},
      qos: {type: 'string', default: '1'},
      retries: {type: 'string', default: '5'},
      help: {type: 'boolean', short: 'h'},
    },
  }))
} catch (error) {
  usage(error.message)
}

if (values.help) {
  console.log(USAGE)
  process.exit(0)
}

const [command, topic, ...words] = positionals
if (command !== 'sub' && command !== 'pub') usage(command ? `unknown command "${command}"` : 'missing command')
if (!topic) usage('missing topic')
if (command === 'sub' && words.length > 0) usage('sub takes a single topic filter')
if (command === 'pub' && words.length === 0) usage('missing message')
if (!['0', '1'].includes(values.qos)) usage('--qos must be 0 or 1')
if (!/^\d+$/.test(values.retries)) usage('--retries must be a whole number')

// Loaded once the command line is known good: a usage error answers at once.
const {default: mqtt} = await import('mqtt')
// Rolling restarts close connections: reconnect every 500 ms; QoS 1 publishes not yet acknowledged are sent again.
const client = mqtt.connect(url, {
  clientId: values.id ?? `${command}-${process.pid}`,
  reconnectPeriod: 500,
  resubscribe: false,
})
let attempts = 0
client.on('connect', () => (attempts = 0))
client.on('error', (error) => console.error(`error: ${error.message}`))
client.on('reconnect', () => {
  if (command === 'pub' && ++attempts > Number(values.retries)) {
    console.error(`error: could not publish to ${topic}: no broker answered at ${url}`)
    process.exit(1)
  }
  console.error(`not connected to ${url}; reconnecting`)
})
process.on('SIGINT', () => client.end(() => process.exit(130)))

if (command === 'sub') {
  process.on('SIGTERM', () => client.end(() => process.exit(0)))
  client.on('message', (received, payload) => process.stdout.write(`${received} ${payload}\n`))
  // Every connection is a new session (the next broker knows nothing of the last one): subscribe on each.
  client.on('connect', () =>
    client.subscribe(topic, {qos: 1}, (error) => {
      console.error(error ? `error: ${error.message}` : `subscribed to ${topic} on ${url}`)
    }),
  )
} else {
  client.publish(topic, words.join(' '), {qos: Number(values.qos), retain: values.retain}, (error) => {
    if (error) console.error(`error: could not publish to ${topic}: ${error.message}`)
    client.end(() => process.exit(error ? 1 : 0))
  })
}
