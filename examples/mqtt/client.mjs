#!/usr/bin/env node
// A tiny MQTT command-line client for the example broker, reached through $TCP_URL like any client
// of a Scalingo app would. Messages go to stdout, connection news to stderr.
import {parseArgs} from 'node:util'

import {DEFAULT_TCP_URL, MqttClient, NotConnectedError} from './lib/client.mjs'

const USAGE = `usage: node client.mjs sub [--id ID] <topic-filter>
       node client.mjs pub [--id ID] [--retain] [--qos 0|1] [--retries N] <topic> <message>

  sub   print every message matching <topic-filter> (wildcards + and #) as "<topic> <payload>"
  pub   publish <message> to <topic> and exit once the broker has it (QoS 1 by default)
        --retries N: reconnection attempts before giving up (default 5)

Connects to $TCP_URL (default ${DEFAULT_TCP_URL}) and reconnects with backoff when the connection drops.
Exit codes: 0 ok (sub: stopped by SIGTERM), 1 could not connect or publish, 2 usage error, 130 interrupted.`

function usageError(message) {
  process.stderr.write(`error: ${message}\n\n${USAGE}\n`)
  process.exit(2)
}

function parseCommandLine(argv) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        id: {type: 'string'},
        retain: {type: 'boolean', short: 'r', default: false},
        qos: {type: 'string', short: 'q', default: '1'},
        retries: {type: 'string', default: '5'},
        help: {type: 'boolean', short: 'h', default: false},
      },
    })
  } catch (error) {
    usageError(error.message)
  }

  const {values, positionals} = parsed
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }

  const [command, topic, ...message] = positionals
  if (command !== 'sub' && command !== 'pub') usageError(command ? `unknown command "${command}"` : 'missing command')
  if (!topic) usageError('missing topic')
  if (command === 'sub' && message.length > 0) usageError('sub takes a single topic filter')
  if (command === 'pub' && message.length === 0) usageError('missing message')
  if (values.qos !== '0' && values.qos !== '1') usageError('--qos must be 0 or 1')
  if (!/^\d+$/.test(values.retries)) usageError('--retries must be a whole number')
  return {
    command,
    topic,
    message: message.join(' '),
    retain: values.retain,
    qos: Number(values.qos),
    retries: Number(values.retries),
    id: values.id,
  }
}

function createClient(prefix, {id, ...options}) {
  const url = process.env.TCP_URL || DEFAULT_TCP_URL
  try {
    return new MqttClient({url, clientId: id ?? `${prefix}-${process.pid}`, ...options})
  } catch (error) {
    process.stderr.write(`error: ${error.message}\n`)
    process.exit(2)
  }
}

function reportConnection(client) {
  const url = process.env.TCP_URL || DEFAULT_TCP_URL
  client.on('reconnecting', ({attempt, delayMs, reason}) => {
    process.stderr.write(`${reason}; reconnecting to ${url} in ${delayMs} ms (attempt ${attempt})\n`)
  })
}

async function subscribe({topic, id}) {
  const client = createClient('sub', {id})
  reportConnection(client)
  client.on('subscribed', () => process.stderr.write(`subscribed to ${topic} on ${process.env.TCP_URL || DEFAULT_TCP_URL}\n`))
  client.on('message', (messageTopic, payload) => process.stdout.write(`${messageTopic} ${payload.toString('utf8')}\n`))
  client.on('error', (error) => {
    process.stderr.write(`error: ${error.message}\n`)
    process.exit(1)
  })
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 0]]) {
    process.on(signal, () => client.end().finally(() => process.exit(code)))
  }

  client.subscribe(topic).catch(() => {})
  client.connect().catch(() => {})
}

async function publish({topic, message, retain, qos, retries, id}) {
  const client = createClient('pub', {id, maxAttempts: retries})
  reportConnection(client)
  client.on('error', () => {})
  process.on('SIGINT', () => client.end().finally(() => process.exit(130)))
  client.connect().catch(() => {})
  for (;;) {
    try {
      await client.waitForConnection()
      await client.publish(topic, message, {qos, retain})
      break
    } catch (error) {
      // After a drop the client reconnects on its own; a refusal or exhausted attempts are final.
      if (!(error instanceof NotConnectedError) || client.closed) {
        process.stderr.write(`error: could not publish to ${topic}: ${error.message}\n`)
        process.exit(1)
      }
    }
  }

  await client.end()
}

const options = parseCommandLine(process.argv.slice(2))
if (options.command === 'sub') await subscribe(options)
else await publish(options)
