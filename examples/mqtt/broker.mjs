// A small MQTT 3.1.1 broker, the `tcp` process of the example app. It behaves as the platform asks of
// a `tcp` container: listens on 0.0.0.0:$PORT, and on SIGTERM closes its own connections and exits.
// Each instance is independent (containers share nothing): with `tcp=2`, clients connected to
// different instances do not see each other's messages.
import net from 'node:net'

import {ConnackCode, MqttProtocolError, PacketParser, SUBACK_FAILURE, encode, isValidTopicFilter, topicMatches} from './lib/mqtt.mjs'
import {containerLogger, readPort} from './lib/container.mjs'

const CONTAINER = process.env.CONTAINER || 'broker'
// A client that opens a connection but never says CONNECT (3.1.4: close it "within a reasonable time").
const CONNECT_TIMEOUT_MS = 10_000
// QoS 0 is "at most once": a subscriber that stops reading loses messages instead of growing our memory.
const MAX_BUFFERED_PER_CLIENT = 1024 * 1024
// Past this, clients that keep their end open after our FIN are cut; the platform's SIGKILL comes at 30 s.
const SHUTDOWN_GRACE_MS = 5_000

const log = containerLogger('broker')


class Broker {
  sessions = new Set()
  sessionsByClientId = new Map()
  retained = new Map()
  shuttingDown = false

  accept(socket) {
    const session = {
      socket,
      parser: new PacketParser(),
      clientId: undefined,
      connected: false,
      subscriptions: new Map(),
      will: undefined,
      closeReason: undefined,
      refusal: undefined,
    }
    this.sessions.add(session)
    socket.setNoDelay(true)
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => this.drop(session, 'no CONNECT received'))
    socket.on('data', (chunk) => this.receive(session, chunk))
    socket.on('error', (error) => (session.closeReason ??= error.code === 'ECONNRESET' ? 'connection reset' : error.message))
    socket.on('close', () => this.closed(session))
  }

  receive(session, chunk) {
    if (this.shuttingDown) return
    let packets
    try {
      packets = session.parser.push(chunk)
    } catch (error) {
      if (!(error instanceof MqttProtocolError)) throw error
      return this.drop(session, `malformed packet: ${error.message}`)
    }

    for (const packet of packets) {
      if (session.socket.destroyed || this.shuttingDown) return
      this.handle(session, packet)
    }
  }

  handle(session, packet) {
    if (!session.connected && packet.type !== 'connect') {
      return this.drop(session, `${packet.type.toUpperCase()} before CONNECT`)
    }

    switch (packet.type) {
      case 'connect':
        return this.connect(session, packet)
      case 'publish':
        return this.publish(session, packet)
      case 'pubrel':
        return this.send(session, {type: 'pubcomp', packetId: packet.packetId})
      case 'subscribe':
        return this.subscribe(session, packet)
      case 'unsubscribe':
        for (const topic of packet.topics) session.subscriptions.delete(topic)
        return this.send(session, {type: 'unsuback', packetId: packet.packetId})
      case 'pingreq':
        return this.send(session, {type: 'pingresp'})
      case 'disconnect':
        // 3.14.4: a clean DISCONNECT discards the will.
        session.will = undefined
        session.closeReason = 'disconnect'
        return session.socket.end()
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        // Acknowledgements of deliveries we never make above QoS 0: nothing to track.
        return
      default:
        return this.drop(session, `a client must not send ${packet.type.toUpperCase()}`)
    }
  }

  connect(session, packet) {
    if (session.connected) return this.drop(session, 'second CONNECT')
    if (packet.unsupported) {
      session.refusal = `unsupported protocol ${packet.protocolName} level ${packet.protocolLevel}`
      this.send(session, {type: 'connack', returnCode: ConnackCode.UnacceptableProtocolVersion})
      return session.socket.end()
    }

    // Sessions are never persisted, so an empty id is fine for a clean session only (3.1.3-7/8).
    if (packet.clientId === '' && !packet.cleanSession) {
      session.refusal = 'empty client id without clean session'
      this.send(session, {type: 'connack', returnCode: ConnackCode.IdentifierRejected})
      return session.socket.end()
    }

    session.clientId = packet.clientId || `auto-${Math.random().toString(16).slice(2, 10)}`
    session.connected = true
    session.will = packet.will
    const previous = this.sessionsByClientId.get(session.clientId)
    // 3.1.4-2: a second connection with the same client id takes over the first.
    if (previous) this.drop(previous, 'taken over by a new connection with the same client id')
    this.sessionsByClientId.set(session.clientId, session)
    // 3.1.2-24: the server may wait 1.5 keep-alive periods before deciding the client is gone.
    session.socket.setTimeout(packet.keepAlive * 1500, () => this.drop(session, 'keep-alive timeout'))
    this.send(session, {type: 'connack', sessionPresent: false, returnCode: ConnackCode.Accepted})
    log(`client ${session.clientId} connected`)
  }

  publish(session, packet) {
    this.route(packet.topic, packet.payload, packet.retain)
    // Acknowledged after the fan-out, so a publisher that waits for its PUBACK knows delivery happened.
    if (packet.qos === 1) this.send(session, {type: 'puback', packetId: packet.packetId})
    if (packet.qos === 2) this.send(session, {type: 'pubrec', packetId: packet.packetId})
  }

  route(topic, payload, retain) {
    if (retain) {
      // 3.3.1-10/11: an empty retained message clears the topic's retained message.
      if (payload.length === 0) this.retained.delete(topic)
      else this.retained.set(topic, payload)
    }

    for (const subscriber of this.sessions) {
      if (!subscriber.connected) continue
      let matches = false
      for (const filter of subscriber.subscriptions.keys()) {
        if (topicMatches(filter, topic)) {
          matches = true
          break
        }
      }

      // Once per client even when several of its filters match (3.3.5); retain is 0 for live messages (3.3.1-9).
      if (matches && subscriber.socket.writableLength < MAX_BUFFERED_PER_CLIENT) {
        this.send(subscriber, {type: 'publish', topic, payload, qos: 0, retain: false})
      }
    }
  }

  subscribe(session, packet) {
    const accepted = []
    const granted = packet.subscriptions.map(({topic}) => {
      if (!isValidTopicFilter(topic)) return SUBACK_FAILURE
      session.subscriptions.set(topic, 0)
      accepted.push(topic)
      return 0
    })
    this.send(session, {type: 'suback', packetId: packet.packetId, granted})
    for (const [topic, payload] of this.retained) {
      if (accepted.some((filter) => topicMatches(filter, topic))) {
        this.send(session, {type: 'publish', topic, payload, qos: 0, retain: true})
      }
    }
  }

  send(session, packet) {
    if (this.shuttingDown || !session.socket.writable) return
    session.socket.write(encode(packet))
  }

  drop(session, reason) {
    session.closeReason = reason
    session.socket.destroy()
  }

  closed(session) {
    this.sessions.delete(session)
    if (session.refusal) return log(`connection refused: ${session.refusal}`)
    if (!session.connected) {
      // A connection closed quietly before CONNECT is a readiness probe (the gateway's): not worth a line.
      const quiet = !session.closeReason || session.closeReason === 'connection reset' || this.shuttingDown
      if (!quiet) log(`connection closed before CONNECT (${session.closeReason})`)
      return
    }

    if (this.sessionsByClientId.get(session.clientId) === session) this.sessionsByClientId.delete(session.clientId)
    const reason = session.closeReason ?? 'connection closed'
    log(`client ${session.clientId} disconnected${reason === 'disconnect' ? '' : ` (${reason})`}`)
    // 3.1.2-8: the will is published when the connection ends without a DISCONNECT.
    if (session.will && !this.shuttingDown) this.route(session.will.topic, session.will.payload, session.will.retain)
  }

  /** Sends FIN to every client, then resolves once they are all gone (or cut after the grace period). */
  shutDown() {
    this.shuttingDown = true
    for (const session of this.sessions) {
      session.closeReason = 'broker shutting down'
      session.socket.end()
    }

    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const session of this.sessions) session.socket.destroy()
        resolve()
      }, SHUTDOWN_GRACE_MS)
      const check = () => {
        if (this.sessions.size > 0) return
        clearTimeout(timer)
        resolve()
      }

      for (const session of this.sessions) session.socket.once('close', () => setImmediate(check))
      check()
    })
  }
}

const port = readPort('broker', 'the broker alone with `PORT=1883 node broker.mjs`')
const broker = new Broker()
const server = net.createServer((socket) => broker.accept(socket))

server.on('error', (error) => {
  process.stderr.write(`[${CONTAINER}] cannot listen on 0.0.0.0:${port}: ${error.message}\n`)
  process.exit(1)
})

// 0.0.0.0, not 127.0.0.1: on the platform the gateway reaches the container from another host.
server.listen(port, '0.0.0.0', () => log(`listening on ${server.address().port}`))

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    if (stopping) return
    stopping = true
    log(`${signal} received: closing ${broker.sessions.size} connection(s)`)
    server.close()
    await broker.shutDown()
    log('stopped')
    process.exit(0)
  })
}
