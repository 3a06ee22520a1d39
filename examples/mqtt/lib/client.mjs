// A small MQTT 3.1.1 client that survives what the platform does to connections: containers are
// replaced at any moment and old connections are dropped or black-holed, so it detects dead links
// with keep-alive pings and reconnects with exponential backoff, re-subscribing each time.
import {EventEmitter} from 'node:events'
import net from 'node:net'

import {ConnackCode, PacketParser, encode} from './mqtt.mjs'

export const DEFAULT_TCP_URL = 'tcp://127.0.0.1:20003'

/** Parses a `TCP_URL` such as `tcp://tcp-1.osc-fr1.scalingo.com:20003` into host and port. */
export function parseTcpUrl(value) {
  let url
  try {
    url = new URL(value)
  } catch {
    throw new TypeError(`invalid TCP_URL "${value}": expected tcp://host:port`)
  }

  const port = Number(url.port)
  if ((url.protocol !== 'tcp:' && url.protocol !== 'mqtt:') || !url.hostname || !Number.isInteger(port) || port < 1) {
    throw new TypeError(`invalid TCP_URL "${value}": expected tcp://host:port`)
  }

  // URL keeps the brackets of an IPv6 literal; net.connect wants the bare address.
  return {host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port}
}

/** Delay before reconnection attempt `attempt` (1-based): doubling from minDelayMs up to maxDelayMs, with jitter. */
export function backoffDelay(attempt, {minDelayMs = 250, maxDelayMs = 10_000, random = Math.random} = {}) {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** (attempt - 1))
  // Jitter keeps a fleet of clients from reconnecting in lock-step after a restart.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

export class NotConnectedError extends Error {
  constructor(message = 'not connected to the broker') {
    super(message)
    this.name = 'NotConnectedError'
    this.code = 'ENOTCONNECTED'
  }
}

/**
 * Events: 'connect' ({attempt}), 'subscribed' ({topics, granted}), 'message' (topic, payload: Buffer,
 * {retain, qos}), 'disconnect' ({reason}), 'reconnecting' ({attempt, delayMs, reason}),
 * 'error' (Error: the broker refused the connection or maxAttempts is exhausted; no more retries),
 * 'close' (after end() or a fatal error).
 */
export class MqttClient extends EventEmitter {
  #options
  #socket = undefined
  #connected = false
  #stopped = false
  #attempt = 0
  #nextPacketId = 1
  #pending = new Map()
  #subscriptions = new Map()
  #timers = new Set()
  #lastReceivedAt = 0

  constructor({
    url = DEFAULT_TCP_URL,
    clientId = `client-${Math.random().toString(16).slice(2, 10)}`,
    keepAliveSeconds = 15,
    connectTimeoutMs = 10_000,
    minDelayMs = 250,
    maxDelayMs = 10_000,
    maxAttempts = Infinity,
  } = {}) {
    super()
    this.#options = {...parseTcpUrl(url), url, clientId, keepAliveSeconds, connectTimeoutMs, minDelayMs, maxDelayMs, maxAttempts}
  }

  get clientId() {
    return this.#options.clientId
  }

  get connected() {
    return this.#connected
  }

  /** True once end() was called or the client gave up: it will not reconnect any more. */
  get closed() {
    return this.#stopped
  }

  /** Starts connecting (and reconnecting); resolves on the first accepted connection. */
  connect() {
    const connected = this.waitForConnection()
    if (!this.#socket && !this.#stopped) this.#open()
    return connected
  }

  /** Resolves when connected (now or later), rejects if the client gives up or is ended first. */
  waitForConnection() {
    if (this.#connected) return Promise.resolve()
    if (this.#stopped) return Promise.reject(new NotConnectedError('client is closed'))
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        this.off('connect', onConnect)
        this.off('error', onError)
        this.off('close', onClose)
      }

      const onConnect = () => (cleanup(), resolve())
      const onError = (error) => (cleanup(), reject(error))
      const onClose = () => (cleanup(), reject(new NotConnectedError('client is closed')))
      this.on('connect', onConnect)
      this.on('error', onError)
      this.on('close', onClose)
    })
  }

  /** Subscribes now if connected, and again after every reconnection. Resolves with the granted QoS. */
  async subscribe(topic, qos = 0) {
    this.#subscriptions.set(topic, qos)
    if (!this.#connected) return this.#nextSubscriptionOf(topic)

    const ack = await this.#request({type: 'subscribe', subscriptions: [{topic, qos}]}, 'suback')
    return ack.granted[0]
  }

  #nextSubscriptionOf(topic) {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        this.off('subscribed', onSubscribed)
        this.off('close', onClose)
      }

      const onSubscribed = ({topics, granted}) => {
        if (!topics.includes(topic)) return
        cleanup()
        resolve(granted[topics.indexOf(topic)])
      }

      const onClose = () => (cleanup(), reject(new NotConnectedError('client is closed')))
      this.on('subscribed', onSubscribed)
      this.on('close', onClose)
    })
  }

  async unsubscribe(topic) {
    this.#subscriptions.delete(topic)
    if (this.#connected) await this.#request({type: 'unsubscribe', topics: [topic]}, 'unsuback')
  }

  /** QoS 0 resolves once written; QoS 1 resolves on the broker's PUBACK. Rejects with NotConnectedError when offline. */
  async publish(topic, payload, {qos = 0, retain = false} = {}) {
    if (!this.#connected) throw new NotConnectedError()
    if (qos === 0) {
      await new Promise((resolve, reject) => {
        this.#socket.write(encode({type: 'publish', topic, payload, qos, retain}), (error) => (error ? reject(error) : resolve()))
      })
      return
    }

    await this.#request({type: 'publish', topic, payload, qos: 1, retain}, 'puback')
  }

  /** Sends DISCONNECT, closes the connection and stops reconnecting. */
  async end() {
    if (this.#stopped) return
    this.#stopped = true
    this.#clearTimers()
    const socket = this.#socket
    if (socket && !socket.destroyed) {
      await new Promise((resolve) => {
        socket.once('close', resolve)
        if (this.#connected) socket.end(encode({type: 'disconnect'}))
        else socket.destroy()
      })
    }

    this.#connected = false
    this.emit('close')
  }

  #open() {
    const {host, port, connectTimeoutMs} = this.#options
    const socket = net.connect({host, port})
    const connection = {socket, closeReason: 'connection closed by the broker'}
    this.#socket = socket
    const parser = new PacketParser()
    socket.setNoDelay(true)
    // Covers both a TCP connect that hangs and a gateway that accepts but never reaches a broker.
    socket.setTimeout(connectTimeoutMs, () => this.#drop(connection, `no CONNACK within ${connectTimeoutMs} ms`))
    socket.on('connect', () => {
      const {clientId, keepAliveSeconds} = this.#options
      socket.write(encode({type: 'connect', clientId, keepAlive: keepAliveSeconds, cleanSession: true}))
    })
    socket.on('data', (chunk) => {
      this.#lastReceivedAt = Date.now()
      let packets
      try {
        packets = parser.push(chunk)
      } catch (error) {
        return this.#drop(connection, `protocol error: ${error.message}`)
      }

      for (const packet of packets) {
        if (socket.destroyed) break
        this.#handle(connection, packet)
      }
    })
    socket.on('error', (error) => {
      connection.closeReason = error.code === 'ECONNREFUSED' ? `connection refused by ${host}:${port}` : error.message
    })
    socket.on('close', () => this.#onClose(socket, connection.closeReason))
  }

  #drop(connection, reason) {
    connection.closeReason = reason
    connection.socket.destroy()
  }

  #handle(connection, packet) {
    const {socket} = connection
    if (!this.#connected) {
      if (packet.type !== 'connack') return this.#drop(connection, `expected CONNACK, got ${packet.type.toUpperCase()}`)
      if (packet.returnCode !== ConnackCode.Accepted) return this.#refused(connection, packet.returnCode)
      socket.setTimeout(0)
      this.#connected = true
      const attempt = this.#attempt
      this.#attempt = 0
      this.#startKeepAlive(connection)
      this.emit('connect', {attempt})
      this.#resubscribe()
      return
    }

    switch (packet.type) {
      case 'publish':
        // Only QoS 0 is asked for, but a broker may still deliver more if it grants more.
        if (packet.qos === 1) socket.write(encode({type: 'puback', packetId: packet.packetId}))
        if (packet.qos === 2) socket.write(encode({type: 'pubrec', packetId: packet.packetId}))
        this.emit('message', packet.topic, packet.payload, {retain: packet.retain, qos: packet.qos})
        break
      case 'pubrel':
        socket.write(encode({type: 'pubcomp', packetId: packet.packetId}))
        break
      case 'puback':
      case 'suback':
      case 'unsuback': {
        const pending = this.#pending.get(packet.packetId)
        if (pending && pending.expect === packet.type) {
          this.#pending.delete(packet.packetId)
          pending.resolve(packet)
        }

        break
      }

      case 'pingresp':
        break
      default:
        this.#drop(connection, `unexpected ${packet.type.toUpperCase()} from the broker`)
    }
  }

  #refused(connection, returnCode) {
    const reasons = {
      [ConnackCode.UnacceptableProtocolVersion]: 'unacceptable protocol version',
      [ConnackCode.IdentifierRejected]: 'client identifier rejected',
      [ConnackCode.ServerUnavailable]: 'server unavailable',
      [ConnackCode.BadUserNameOrPassword]: 'bad user name or password',
      [ConnackCode.NotAuthorized]: 'not authorized',
    }
    const reason = `broker refused the connection: ${reasons[returnCode] ?? `return code ${returnCode}`}`
    // "Server unavailable" is transient by definition; any other refusal would only be repeated.
    if (returnCode === ConnackCode.ServerUnavailable) return this.#drop(connection, reason)

    this.#stopped = true
    connection.socket.destroy()
    this.emit('error', Object.assign(new Error(reason), {code: 'EMQTTREFUSED', returnCode}))
    this.emit('close')
  }

  #resubscribe() {
    if (this.#subscriptions.size === 0) return
    const subscriptions = [...this.#subscriptions].map(([topic, qos]) => ({topic, qos}))
    this.#request({type: 'subscribe', subscriptions}, 'suback').then(
      (ack) => this.emit('subscribed', {topics: subscriptions.map((s) => s.topic), granted: ack.granted}),
      () => {},
    )
  }

  #request(packet, expect) {
    const packetId = this.#allocatePacketId()
    return new Promise((resolve, reject) => {
      this.#pending.set(packetId, {expect, resolve, reject})
      this.#socket.write(encode({...packet, packetId}))
    })
  }

  #allocatePacketId() {
    do {
      this.#nextPacketId = (this.#nextPacketId % 0xffff) + 1
    } while (this.#pending.has(this.#nextPacketId))
    return this.#nextPacketId
  }

  #startKeepAlive(connection) {
    const intervalMs = this.#options.keepAliveSeconds * 1000
    if (intervalMs <= 0) return
    // A black-holed connection (what the platform leaves behind an old container) never errors;
    // only a missing answer to our own ping reveals it.
    const timer = setInterval(() => {
      if (Date.now() - this.#lastReceivedAt > intervalMs * 1.5) {
        const silentSeconds = Math.round((Date.now() - this.#lastReceivedAt) / 1000)
        return this.#drop(connection, `no answer from the broker for ${silentSeconds} s`)
      }

      connection.socket.write(encode({type: 'pingreq'}))
    }, intervalMs)
    timer.unref()
    this.#timers.add(timer)
  }

  #clearTimers() {
    for (const timer of this.#timers) {
      clearInterval(timer)
      clearTimeout(timer)
    }

    this.#timers.clear()
  }

  #onClose(socket, reason) {
    if (socket !== this.#socket) return
    this.#socket = undefined
    const wasConnected = this.#connected
    this.#connected = false
    this.#clearTimers()
    for (const pending of this.#pending.values()) pending.reject(new NotConnectedError(`connection lost: ${reason}`))
    this.#pending.clear()
    if (this.#stopped) return
    if (wasConnected) this.emit('disconnect', {reason})

    this.#attempt += 1
    if (this.#attempt > this.#options.maxAttempts) {
      this.#stopped = true
      this.emit('error', Object.assign(new Error(`could not connect to ${this.#options.url}: ${reason}`), {code: 'ECONNFAILED'}))
      this.emit('close')
      return
    }

    const delayMs = backoffDelay(this.#attempt, this.#options)
    this.emit('reconnecting', {attempt: this.#attempt, delayMs, reason})
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      if (!this.#stopped) this.#open()
    }, delayMs)
    this.#timers.add(timer)
  }
}
