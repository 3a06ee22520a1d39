// MQTT 3.1.1 packet encoding and decoding, shared by the broker, the web process and the CLI client.
// Spec: https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html (section numbers below refer to it).

export const PROTOCOL_NAME = 'MQTT'
export const PROTOCOL_LEVEL = 4

// Far below the protocol's 256 MB so that one client cannot make the broker buffer without bound.
export const DEFAULT_MAX_PACKET_SIZE = 1024 * 1024

export const ConnackCode = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
}

export const SUBACK_FAILURE = 0x80

const TYPE_CODES = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
}
const TYPE_NAMES = Object.fromEntries(Object.entries(TYPE_CODES).map(([name, code]) => [code, name]))

// 2.2.2: these three carry the fixed flags 0010, every other type except PUBLISH carries 0000.
const TYPES_WITH_FLAGS_0010 = new Set(['pubrel', 'subscribe', 'unsubscribe'])

/** A packet that breaks the protocol: the only safe reaction is to close that connection (4.8). */
export class MqttProtocolError extends Error {
  constructor(message) {
    super(message)
    this.name = 'MqttProtocolError'
    this.code = 'EMQTTPROTOCOL'
  }
}

// ---------------------------------------------------------------------------------------------
// Topics (4.7)

/** A topic name, as used in PUBLISH: non-empty, no wildcards, no NUL. */
export function isValidTopicName(topic) {
  return typeof topic === 'string' && topic.length > 0 && !/[+#\u0000]/.test(topic)
}

/** A topic filter, as used in SUBSCRIBE: `+` fills a whole level, `#` is the whole last level. */
export function isValidTopicFilter(filter) {
  if (typeof filter !== 'string' || filter.length === 0 || filter.includes('\u0000')) return false
  const levels = filter.split('/')
  return levels.every((level, index) => {
    if (level.includes('#')) return level === '#' && index === levels.length - 1
    return !level.includes('+') || level === '+'
  })
}

/** Whether `topic` (a topic name) matches `filter` (a valid topic filter). */
export function topicMatches(filter, topic) {
  // 4.7.2: wildcards at the first level never match topics starting with `$` ($SYS and friends).
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  const filterLevels = filter.split('/')
  const topicLevels = topic.split('/')
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i]
    // `sport/#` also matches `sport` itself (4.7.1.2).
    if (level === '#') return true
    if (i >= topicLevels.length) return false
    if (level !== '+' && level !== topicLevels[i]) return false
  }

  return filterLevels.length === topicLevels.length
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** The variable-length "remaining length" of the fixed header (2.2.3): 7 bits per byte, at most 4 bytes. */
export function encodeRemainingLength(length) {
  if (!Number.isInteger(length) || length < 0 || length > 268_435_455) {
    throw new RangeError(`remaining length out of range: ${length}`)
  }

  const bytes = []
  do {
    let byte = length % 128
    length = Math.floor(length / 128)
    if (length > 0) byte |= 0x80
    bytes.push(byte)
  } while (length > 0)
  return Buffer.from(bytes)
}

function encodeString(value) {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8')
  if (bytes.length > 0xffff) throw new RangeError('string longer than 65535 bytes')
  const length = Buffer.alloc(2)
  length.writeUInt16BE(bytes.length)
  return Buffer.concat([length, bytes])
}

function encodeUInt16(value) {
  const bytes = Buffer.alloc(2)
  bytes.writeUInt16BE(value)
  return bytes
}

function toBuffer(payload) {
  if (payload === undefined || payload === null) return Buffer.alloc(0)
  return Buffer.isBuffer(payload) ? payload : Buffer.from(String(payload), 'utf8')
}

function encodeBody(packet) {
  switch (packet.type) {
    case 'connect': {
      const will = packet.will
      let flags = 0
      if (packet.cleanSession ?? true) flags |= 0x02
      if (will) flags |= 0x04 | ((will.qos ?? 0) << 3) | (will.retain ? 0x20 : 0)
      if (packet.password !== undefined) flags |= 0x40
      if (packet.username !== undefined) flags |= 0x80
      const parts = [
        encodeString(packet.protocolName ?? PROTOCOL_NAME),
        Buffer.from([packet.protocolLevel ?? PROTOCOL_LEVEL, flags]),
        encodeUInt16(packet.keepAlive ?? 0),
        encodeString(packet.clientId ?? ''),
      ]
      if (will) parts.push(encodeString(will.topic), encodeString(toBuffer(will.payload)))
      if (packet.username !== undefined) parts.push(encodeString(packet.username))
      if (packet.password !== undefined) parts.push(encodeString(toBuffer(packet.password)))
      return {flags: 0, body: Buffer.concat(parts)}
    }

    case 'connack':
      return {flags: 0, body: Buffer.from([packet.sessionPresent ? 1 : 0, packet.returnCode ?? 0])}

    case 'publish': {
      const qos = packet.qos ?? 0
      const flags = (packet.dup ? 0x08 : 0) | (qos << 1) | (packet.retain ? 0x01 : 0)
      const parts = [encodeString(packet.topic)]
      if (qos > 0) parts.push(encodeUInt16(packet.packetId))
      parts.push(toBuffer(packet.payload))
      return {flags, body: Buffer.concat(parts)}
    }

    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      return {flags: 0, body: encodeUInt16(packet.packetId)}

    case 'subscribe': {
      const parts = [encodeUInt16(packet.packetId)]
      for (const {topic, qos} of packet.subscriptions) parts.push(encodeString(topic), Buffer.from([qos ?? 0]))
      return {flags: 0, body: Buffer.concat(parts)}
    }

    case 'suback':
      return {flags: 0, body: Buffer.concat([encodeUInt16(packet.packetId), Buffer.from(packet.granted)])}

    case 'unsubscribe': {
      const parts = [encodeUInt16(packet.packetId), ...packet.topics.map((topic) => encodeString(topic))]
      return {flags: 0, body: Buffer.concat(parts)}
    }

    case 'pingreq':
    case 'pingresp':
    case 'disconnect':
      return {flags: 0, body: Buffer.alloc(0)}

    default:
      throw new TypeError(`cannot encode packet type ${packet.type}`)
  }
}

/** Encodes one packet object (the same shape `PacketParser` produces) into its wire bytes. */
export function encode(packet) {
  const {flags, body} = encodeBody(packet)
  const fixedFlags = TYPES_WITH_FLAGS_0010.has(packet.type) ? 0x02 : flags
  const firstByte = (TYPE_CODES[packet.type] << 4) | fixedFlags
  return Buffer.concat([Buffer.from([firstByte]), encodeRemainingLength(body.length), body])
}

// ---------------------------------------------------------------------------------------------
// Decoding

const utf8 = new TextDecoder('utf-8', {fatal: true})

/** Reads the fields of one packet body, failing loudly on any overrun. */
class BodyReader {
  constructor(body, typeName) {
    this.body = body
    this.offset = 0
    this.typeName = typeName
  }

  get remaining() {
    return this.body.length - this.offset
  }

  fail(message) {
    throw new MqttProtocolError(`${this.typeName.toUpperCase()}: ${message}`)
  }

  need(count, what) {
    if (this.remaining < count) this.fail(`truncated ${what}`)
  }

  byte(what) {
    this.need(1, what)
    return this.body[this.offset++]
  }

  uint16(what) {
    this.need(2, what)
    const value = this.body.readUInt16BE(this.offset)
    this.offset += 2
    return value
  }

  binary(what) {
    const length = this.uint16(`${what} length`)
    this.need(length, what)
    const value = this.body.subarray(this.offset, this.offset + length)
    this.offset += length
    return value
  }

  string(what) {
    const bytes = this.binary(what)
    let value
    try {
      value = utf8.decode(bytes)
    } catch {
      this.fail(`${what} is not valid UTF-8`)
    }

    // 1.5.3: U+0000 is forbidden in every UTF-8 string of the protocol.
    if (value.includes('\u0000')) this.fail(`${what} contains U+0000`)
    return value
  }

  packetId() {
    const id = this.uint16('packet identifier')
    if (id === 0) this.fail('packet identifier 0 is not allowed')
    return id
  }

  rest() {
    const value = this.body.subarray(this.offset)
    this.offset = this.body.length
    return value
  }

  end() {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing byte(s)`)
  }
}

function decodeConnect(reader) {
  const protocolName = reader.string('protocol name')
  const protocolLevel = reader.byte('protocol level')
  // 3.1.2.2: the server answers an unsupported level with return code 1; the rest of the packet may
  // follow another version's layout (MQTT 5 properties), so it is not parsed.
  if (protocolName !== PROTOCOL_NAME || protocolLevel !== PROTOCOL_LEVEL) {
    return {type: 'connect', protocolName, protocolLevel, unsupported: true}
  }

  const flags = reader.byte('connect flags')
  if (flags & 0x01) reader.fail('reserved connect flag is set')
  const hasWill = Boolean(flags & 0x04)
  const willQos = (flags >> 3) & 0x03
  const willRetain = Boolean(flags & 0x20)
  if (willQos === 3) reader.fail('will QoS 3 is not allowed')
  if (!hasWill && (willQos !== 0 || willRetain)) reader.fail('will QoS/retain set without a will')
  const hasPassword = Boolean(flags & 0x40)
  const hasUsername = Boolean(flags & 0x80)
  if (hasPassword && !hasUsername) reader.fail('password without user name')

  const keepAlive = reader.uint16('keep alive')
  const clientId = reader.string('client identifier')
  let will
  if (hasWill) {
    const topic = reader.string('will topic')
    if (!isValidTopicName(topic)) reader.fail(`invalid will topic "${topic}"`)
    will = {topic, payload: reader.binary('will message'), qos: willQos, retain: willRetain}
  }

  const username = hasUsername ? reader.string('user name') : undefined
  const password = hasPassword ? reader.binary('password') : undefined
  reader.end()
  return {
    type: 'connect',
    protocolName,
    protocolLevel,
    cleanSession: Boolean(flags & 0x02),
    keepAlive,
    clientId,
    will,
    username,
    password,
  }
}

function decodePublish(reader, flags) {
  const qos = (flags >> 1) & 0x03
  const dup = Boolean(flags & 0x08)
  if (qos === 3) reader.fail('QoS 3 is not allowed')
  if (qos === 0 && dup) reader.fail('DUP set on a QoS 0 message')
  const topic = reader.string('topic name')
  if (!isValidTopicName(topic)) reader.fail(`invalid topic name "${topic}"`)
  const packetId = qos > 0 ? reader.packetId() : undefined
  return {type: 'publish', topic, payload: reader.rest(), qos, retain: Boolean(flags & 0x01), dup, packetId}
}

function decodeSubscribe(reader) {
  const packetId = reader.packetId()
  const subscriptions = []
  while (reader.remaining > 0) {
    const topic = reader.string('topic filter')
    const qos = reader.byte('requested QoS')
    if (qos > 2) reader.fail(`invalid requested QoS byte ${qos}`)
    subscriptions.push({topic, qos})
  }

  if (subscriptions.length === 0) reader.fail('no topic filter')
  return {type: 'subscribe', packetId, subscriptions}
}

function decodeUnsubscribe(reader) {
  const packetId = reader.packetId()
  const topics = []
  while (reader.remaining > 0) topics.push(reader.string('topic filter'))
  if (topics.length === 0) reader.fail('no topic filter')
  return {type: 'unsubscribe', packetId, topics}
}

/** Decodes one complete packet from its fixed header's first byte and its body. */
export function decodePacket(firstByte, body) {
  const typeName = TYPE_NAMES[firstByte >> 4]
  if (!typeName) throw new MqttProtocolError(`reserved packet type ${firstByte >> 4}`)
  const flags = firstByte & 0x0f
  const expectedFlags = TYPES_WITH_FLAGS_0010.has(typeName) ? 0x02 : 0
  if (typeName !== 'publish' && flags !== expectedFlags) {
    throw new MqttProtocolError(`${typeName.toUpperCase()}: invalid fixed header flags ${flags}`)
  }

  const reader = new BodyReader(body, typeName)
  let packet
  switch (typeName) {
    case 'connect':
      return decodeConnect(reader)
    case 'connack': {
      const ackFlags = reader.byte('acknowledge flags')
      if (ackFlags & 0xfe) reader.fail('reserved acknowledge flags set')
      packet = {type: 'connack', sessionPresent: Boolean(ackFlags & 1), returnCode: reader.byte('return code')}
      break
    }

    case 'publish':
      return decodePublish(reader, flags)
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'unsuback':
      packet = {type: typeName, packetId: reader.packetId()}
      break
    case 'subscribe':
      return decodeSubscribe(reader)
    case 'suback':
      packet = {type: 'suback', packetId: reader.packetId(), granted: [...reader.rest()]}
      break
    case 'unsubscribe':
      return decodeUnsubscribe(reader)
    default:
      packet = {type: typeName}
  }

  reader.end()
  return packet
}

/**
 * Incremental parser: feed it TCP chunks as they arrive (split anywhere, even inside the remaining
 * length), get back the packets completed so far. Throws MqttProtocolError on a malformed packet;
 * the stream cannot be resynchronised after that, so the caller must close the connection.
 */
export class PacketParser {
  #chunks = []
  #buffered = 0
  // Bytes needed before another attempt can make progress, so that a large packet arriving in many
  // small chunks is concatenated once rather than once per chunk.
  #needed = 2
  #maxPacketSize

  constructor({maxPacketSize = DEFAULT_MAX_PACKET_SIZE} = {}) {
    this.#maxPacketSize = maxPacketSize
  }

  /** Bytes received but not yet part of a complete packet. */
  get buffered() {
    return this.#buffered
  }

  push(chunk) {
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    if (this.#buffered < this.#needed) return []

    let data = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#buffered)
    const packets = []
    let offset = 0
    for (;;) {
      const header = this.#readFixedHeader(data, offset)
      if (header === undefined) {
        this.#needed = data.length - offset + 1
        break
      }

      const end = offset + header.headerLength + header.remainingLength
      if (end > data.length) {
        this.#needed = end - offset
        break
      }

      packets.push(decodePacket(data[offset], data.subarray(offset + header.headerLength, end)))
      offset = end
    }

    data = data.subarray(offset)
    this.#chunks = data.length > 0 ? [data] : []
    this.#buffered = data.length
    if (data.length === 0) this.#needed = 2
    return packets
  }

  #readFixedHeader(data, offset) {
    let remainingLength = 0
    let multiplier = 1
    for (let i = 1; i <= 4; i++) {
      if (offset + i >= data.length) return undefined
      const byte = data[offset + i]
      remainingLength += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) {
        if (remainingLength > this.#maxPacketSize) {
          throw new MqttProtocolError(`packet of ${remainingLength} bytes exceeds the ${this.#maxPacketSize} bytes limit`)
        }

        return {headerLength: 1 + i, remainingLength}
      }

      multiplier *= 128
    }

    throw new MqttProtocolError('malformed remaining length (more than 4 bytes)')
  }
}
