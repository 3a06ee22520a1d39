// Types for mqtt.mjs, so that the TypeScript tests can use the example's own library.
export declare const PROTOCOL_NAME: 'MQTT'
export declare const PROTOCOL_LEVEL: 4
export declare const DEFAULT_MAX_PACKET_SIZE: number
export declare const SUBACK_FAILURE: 0x80
export declare const ConnackCode: {
  Accepted: 0
  UnacceptableProtocolVersion: 1
  IdentifierRejected: 2
  ServerUnavailable: 3
  BadUserNameOrPassword: 4
  NotAuthorized: 5
}

export interface Will {
  topic: string
  payload: Buffer | string
  qos?: 0 | 1 | 2
  retain?: boolean
}

export type Packet =
  | {
      type: 'connect'
      protocolName?: string
      protocolLevel?: number
      unsupported?: boolean
      cleanSession?: boolean
      keepAlive?: number
      clientId?: string
      will?: Will
      username?: string
      password?: Buffer | string
    }
  | {type: 'connack'; sessionPresent?: boolean; returnCode: number}
  | {type: 'publish'; topic: string; payload?: Buffer | string; qos?: 0 | 1 | 2; retain?: boolean; dup?: boolean; packetId?: number}
  | {type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback'; packetId: number}
  | {type: 'subscribe'; packetId: number; subscriptions: Array<{topic: string; qos?: number}>}
  | {type: 'suback'; packetId: number; granted: number[]}
  | {type: 'unsubscribe'; packetId: number; topics: string[]}
  | {type: 'pingreq' | 'pingresp' | 'disconnect'}

/** What PacketParser returns: every field of the packet is filled in (payloads are Buffers). */
export type DecodedPacket = Packet & Record<string, any>

export declare class MqttProtocolError extends Error {
  readonly code: 'EMQTTPROTOCOL'
}

export declare function isValidTopicName(topic: unknown): boolean
export declare function isValidTopicFilter(filter: unknown): boolean
export declare function topicMatches(filter: string, topic: string): boolean
export declare function encodeRemainingLength(length: number): Buffer
export declare function encode(packet: Packet): Buffer
export declare function decodePacket(firstByte: number, body: Buffer): DecodedPacket

export declare class PacketParser {
  constructor(options?: {maxPacketSize?: number})
  readonly buffered: number
  /** Throws MqttProtocolError on a malformed packet. */
  push(chunk: Buffer): DecodedPacket[]
}
