// Types for client.mjs, so that the TypeScript tests can use the example's own library.
import {EventEmitter} from 'node:events'

export declare const DEFAULT_TCP_URL: 'tcp://127.0.0.1:20003'
export declare function parseTcpUrl(value: string): {host: string; port: number}
export declare function backoffDelay(
  attempt: number,
  options?: {minDelayMs?: number; maxDelayMs?: number; random?: () => number},
): number

export declare class NotConnectedError extends Error {
  readonly code: 'ENOTCONNECTED'
}

export interface MqttClientOptions {
  url?: string
  clientId?: string
  keepAliveSeconds?: number
  connectTimeoutMs?: number
  minDelayMs?: number
  maxDelayMs?: number
  maxAttempts?: number
}

export interface MqttClientEvents {
  connect: [{attempt: number}]
  subscribed: [{topics: string[]; granted: number[]}]
  message: [topic: string, payload: Buffer, meta: {retain: boolean; qos: number}]
  disconnect: [{reason: string}]
  reconnecting: [{attempt: number; delayMs: number; reason: string}]
  error: [Error]
  close: []
}

export declare class MqttClient extends EventEmitter<MqttClientEvents> {
  constructor(options?: MqttClientOptions)
  readonly clientId: string
  readonly connected: boolean
  readonly closed: boolean
  connect(): Promise<void>
  waitForConnection(): Promise<void>
  subscribe(topic: string, qos?: 0 | 1 | 2): Promise<number>
  unsubscribe(topic: string): Promise<void>
  publish(topic: string, payload: Buffer | string, options?: {qos?: 0 | 1; retain?: boolean}): Promise<void>
  end(): Promise<void>
}
