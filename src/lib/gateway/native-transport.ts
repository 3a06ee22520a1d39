import {lookup} from 'node:dns'
import {createRequire} from 'node:module'
import {isIP} from 'node:net'
import {fileURLToPath} from 'node:url'
import {getSystemErrorName} from 'node:util'

import {systemError} from './system.js'
import type {Endpoint, EndpointHandler, Listener, ListenOptions, Transport} from './transport.js'

/*
 * The gateway's native path: native/relay.c, an N-API addon built by `npm run build:native` (node-gyp) into
 * build/Release/relay.node, drives libuv TCP sockets on Node's own loop and, once a client and its backend
 * are piped, relays their bytes in C without entering JavaScript, and ends the pair by itself when both sides
 * send their FIN (one pipeDone call). Before a pipe (and for what it does not cover: resets, drops, timeouts)
 * this file keeps each endpoint's state machine (end, finish, close-when-both-done) on top of the addon's
 * primitives.
 *
 * The addon names sockets by number (an id: slot and generation); it calls back with the slot, and
 * `endpoints` maps a slot to its endpoint while that endpoint is open.
 *
 * The addon is loaded by the first nativeTransport() call, not by importing this module. No compiler at
 * install time, or an addon that does not load: nativeTransport() returns null and the gateway uses the
 * net.Socket transport.
 */

/** A listening socket (an N-API external). */
type Handle = {readonly __nativeHandle: unique symbol}
/** A socket's id in the addon; its slot is id % SLOT_SPAN. */
type Id = number
const SLOT_SPAN = 2 ** 24

interface Addon {
  setup(callbacks: Callbacks): void
  create(): Id
  connect(id: Id, address: string, port: number): number
  readStart(id: Id): number
  readStop(id: Id): void
  write(id: Id, buffer: Buffer, length: number): number
  /** 1: the FIN went out now (allowed by `now`, nothing queued), no callback follows; else a status. */
  shutdown(id: Id, now: boolean): number
  close(id: Id): number
  reset(id: Id): number
  pipe(a: Id, b: Id): number
  bytesRead(id: Id): number
  idle(id: Id): number
  pending(id: Id): number
  remoteAddress(id: Id): string | undefined
  listen(listener: NativeListener, address: string, port: number, backlog: number): Handle | number
  listenerPort(handle: Handle): number
  listenerClose(handle: Handle): void
  stats(): NativeStats
}

/** What the addon holds right now: side structs not yet freed, libuv handles not yet closed. */
export interface NativeStats {
  sides: number
  handles: number
}

interface Callbacks {
  accept(listener: NativeListener, id: Id): void
  acceptError(listener: NativeListener, status: number): void
  connect(slot: number, status: number): void
  data(slot: number, buffer: Buffer): void
  end(slot: number): void
  error(slot: number, status: number): void
  write(slot: number, status: number): void
  shutdown(slot: number, status: number): void
  /** A piped pair ended normally: C closed both sockets. */
  pipeDone(slotA: number, slotB: number, bytesReadA: number, bytesReadB: number, idleA: number, idleB: number): void
}

/** The package's root directory (this file is in src/lib/gateway/ or dist/lib/gateway/). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** build/Release/relay.node at the package root: the relay built from source on this machine. */
export const DEFAULT_ADDON_PATH = fileURLToPath(new URL('../../../build/Release/relay.node', import.meta.url))

/**
 * Where the relay is: node-gyp-build's search, the ecosystem's convention for prebuilt addons. It prefers a
 * build from source (build/Release/) and else takes the package's prebuild for this platform, architecture and
 * libc (prebuilds/linux-x64/scalingo-tcp.glibc.node, made by scripts/prebuild-relay.js at `npm pack`). Throws,
 * naming the platform, when there is neither.
 */
export function findAddon(root = PACKAGE_ROOT): string {
  const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build') as {path(dir: string): string}
  return nodeGypBuild.path(root)
}

const loaded = new Map<string, Addon | null>()
let failure: string | undefined

/**
 * Why the relay is not in use, in a sentence a user can act on, once loadAddon() returned null for the
 * package's own relay; undefined while it loads (or has not been tried).
 */
export function nativeUnavailableReason(): string | undefined {
  return failure
}

/** The addon at `path` (by default the package's own, found by findAddon()), set up; null when it is missing or does not load. */
export function loadAddon(path?: string): Addon | null {
  const key = path ?? ''
  if (loaded.has(key)) return loaded.get(key)!
  let addon: Addon | null = null
  let reason: string | undefined
  try {
    const candidate = createRequire(import.meta.url)(path ?? findAddon()) as Partial<Addon>
    if (typeof candidate.setup === 'function' && typeof candidate.pipe === 'function') {
      addon = candidate as Addon
      addon.setup(callbacks)
    } else {
      reason = 'the relay found is not the one this version expects'
    }
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error)
    reason = message.startsWith('No native build was found')
      ? `no relay was built and no prebuilt one fits ${process.platform}-${process.arch}`
      : `the relay does not load (${message})`
  }

  if (path === undefined && !addon) failure = reason
  loaded.set(key, addon)
  return addon
}

/** The native transport, or null when the addon is not built or does not load. */
export function nativeTransport(path?: string): Transport | null {
  const addon = loadAddon(path)
  if (!addon) return null
  return {
    name: 'native',
    listen: (options) => listen(addon, options),
    connect(address, port, handler) {
      const endpoint = new NativeEndpoint(addon)
      endpoint.handler = handler
      endpoint.connect(address, port)
      return endpoint
    },
  }
}

/** The addon's live counts (leak checks), or null without the addon. */
export function nativeStats(path?: string): NativeStats | null {
  return loadAddon(path)?.stats() ?? null
}

/** What setup() takes: one function per kind of event the addon reports. */
export const CALLBACK_NAMES: ReadonlyArray<keyof Callbacks> = [
  'accept',
  'acceptError',
  'connect',
  'data',
  'end',
  'error',
  'write',
  'shutdown',
  'pipeDone',
]

/** The open endpoint of each slot (the addon never calls back for a socket once JavaScript closed it). */
const endpoints: Array<NativeEndpoint | undefined> = []

const callbacks: Callbacks = {
  accept: (listener, id) => listener.accepted(id),
  acceptError: (listener, status) => listener.options.onAcceptError(errorCode(status)),
  connect(slot, status) {
    const endpoint = endpoints[slot]!
    if (status === 0) endpoint.connected()
    else endpoint.connectFailed(errorCode(status))
  },
  data: (slot, buffer) => endpoints[slot]!.received(buffer),
  end: (slot) => endpoints[slot]!.readEnded(),
  error: (slot, status) => endpoints[slot]!.fail(errorCode(status)),
  write: (slot, status) => endpoints[slot]!.writeDone(status),
  shutdown: (slot, status) => endpoints[slot]!.shutdownDone(status),
  pipeDone(slotA, slotB, bytesReadA, bytesReadB, idleA, idleB) {
    const a = endpoints[slotA]!
    const b = endpoints[slotB]!
    // Both are closed before either handler hears of it: each then sees its peer closed too.
    a.closedByPipe(bytesReadA, idleA)
    b.closedByPipe(bytesReadB, idleB)
    a.handler?.onClose(a, null)
    b.handler?.onClose(b, null)
  },
}

/** Where an endpoint's FIN stands: not asked for, sent (libuv sends it once queued writes are out), acknowledged. */
const Shutdown = {None: 0, Sent: 1, Done: 2} as const

/**
 * How an endpoint ends: once the peer's FIN arrived (readEnded) and ours is out (shutdownDone), it closes and
 * reports onClose(null); after finish() it closes as soon as ours is out, whatever the peer does; a failure
 * closes it and reports the code.
 */
class NativeEndpoint implements Endpoint {
  handler: EndpointHandler | null = null
  closed = false
  readonly id: Id
  /** The peer's FIN arrived. */
  private ended = false
  private shutdownState: number = Shutdown.None
  private closeOnceShutdown = false
  /** Writes from write() still queued (piped writes are C's business). */
  private pendingWrites = 0
  private finalBytesRead = 0
  private lastActiveAt = 0

  constructor(
    private readonly addon: Addon,
    accepted?: Id,
  ) {
    this.id = accepted ?? addon.create()
    endpoints[this.id % SLOT_SPAN] = this
  }

  get pendingBytes(): number {
    return this.closed ? 0 : this.addon.pending(this.id)
  }

  get bytesRead(): number {
    return this.closed ? this.finalBytesRead : this.addon.bytesRead(this.id)
  }

  idleMs(): number {
    return this.closed ? Date.now() - this.lastActiveAt : this.addon.idle(this.id)
  }

  /** Connects to a host name (resolved first) or an IP; the outcome reaches the handler later, never synchronously. */
  connect(address: string, port: number): void {
    if (isIP(address) !== 0) {
      this.connectTo(address, port)
      return
    }

    lookup(address, (error, resolved) => {
      if (this.closed) return
      if (error) this.connectFailed((error as NodeJS.ErrnoException).code ?? 'ENOTFOUND')
      else this.connectTo(resolved, port)
    })
  }

  private connectTo(address: string, port: number): void {
    const status = this.addon.connect(this.id, address, port)
    // Failures found right away (EMFILE at socket()...) still reach the handler later, as the contract says.
    if (status !== 0) process.nextTick(connectFailedLater, this, errorCode(status))
  }

  connected(): void {
    this.handler?.onConnect(this)
  }

  connectFailed(code: string): void {
    if (this.closed) return
    this.close()
    this.handler?.onConnectFailed(this, code)
  }

  pipe(peer: Endpoint): void {
    if (this.closed || peer.closed) return
    const status = this.addon.pipe(this.id, (peer as NativeEndpoint).id)
    if (status !== 0) this.fail(errorCode(status))
  }

  readStart(): void {
    if (this.closed || this.ended) return
    const status = this.addon.readStart(this.id)
    if (status !== 0) this.fail(errorCode(status))
  }

  readStop(): void {
    if (!this.closed) this.addon.readStop(this.id)
  }

  /** Bytes read while not piped (a copy). */
  received(buffer: Buffer): void {
    const {handler} = this
    if (handler !== null && !handler.onData(this, buffer, buffer.length)) this.readStop()
  }

  write(buffer: Buffer, length: number): boolean {
    if (this.closed) return true
    const status = this.addon.write(this.id, buffer, length)
    if (status === 0) return true
    if (status < 0) {
      this.fail(errorCode(status))
      return true
    }

    this.pendingWrites++
    return false
  }

  writeDone(status: number): void {
    this.pendingWrites--
    if (this.closed) return
    if (status < 0) {
      this.fail(errorCode(status))
      return
    }

    if (this.pendingWrites === 0) this.handler?.onDrain(this)
  }

  end(): void {
    if (this.closed || this.shutdownState !== Shutdown.None) return
    // The peer is done too and nothing waits: close() sends the same FIN and saves a shutdown round trip.
    if (this.ended && this.pendingWrites === 0 && this.addon.pending(this.id) === 0) {
      this.closeItself()
      return
    }

    this.shutdownState = Shutdown.Sent
    // finish() keeps the round trip: the loop turn it takes lets a reading side drain what the peer sent,
    // so that closing right after the FIN does not turn into a reset.
    const status = this.addon.shutdown(this.id, !this.closeOnceShutdown && this.pendingWrites === 0)
    if (status === 1) {
      this.shutdownState = Shutdown.Done
      this.closeIfDone()
    } else if (status !== 0) {
      this.fail(errorCode(status))
    }
  }

  finish(): void {
    this.closeOnceShutdown = true
    if (this.shutdownState === Shutdown.Done) this.closeItself()
    else this.end()
  }

  readEnded(): void {
    this.ended = true
    this.handler?.onEnd(this)
    this.closeIfDone()
  }

  shutdownDone(status: number): void {
    if (this.closed) return
    if (status < 0) {
      this.fail(errorCode(status))
      return
    }

    this.shutdownState = Shutdown.Done
    this.closeIfDone()
  }

  /** Closes on a failure (a system error code: ECONNRESET...) and reports it. */
  fail(code: string): void {
    if (this.closed) return
    this.close()
    this.handler?.onClose(this, code)
  }

  private closeIfDone(): void {
    if (this.closed) return
    if (this.shutdownState === Shutdown.Done && (this.ended || this.closeOnceShutdown)) this.closeItself()
  }

  private closeItself(): void {
    this.close()
    this.handler?.onClose(this, null)
  }

  close(): void {
    if (this.closed) return
    this.forget(this.addon.idle(this.id))
    this.finalBytesRead = this.addon.close(this.id)
  }

  reset(): void {
    if (this.closed) return
    this.forget(this.addon.idle(this.id))
    this.finalBytesRead = this.addon.reset(this.id)
  }

  /** The addon closed it at the end of a pipe. */
  closedByPipe(bytesRead: number, idleMs: number): void {
    this.forget(idleMs)
    this.finalBytesRead = bytesRead
  }

  private forget(idleMs: number): void {
    this.closed = true
    this.lastActiveAt = Date.now() - idleMs
    const slot = this.id % SLOT_SPAN
    if (endpoints[slot] === this) endpoints[slot] = undefined
  }

  remoteAddress(): string {
    return (this.closed ? undefined : this.addon.remoteAddress(this.id)) ?? 'unknown'
  }
}

/** 'ECONNRESET' for a negative libuv status. */
function errorCode(status: number): string {
  try {
    return getSystemErrorName(status)
  } catch {
    return `E${-status}`
  }
}

/** The first address of a host name: the addon binds IP literals only. */
function resolveHost(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    lookup(host, (error, address) => {
      if (error) reject(error)
      else resolve(address)
    })
  })
}

function connectFailedLater(endpoint: NativeEndpoint, code: string): void {
  endpoint.connectFailed(code)
}

class NativeListener implements Listener {
  host = ''
  port = 0
  handle: Handle | null = null

  constructor(
    private readonly addon: Addon,
    readonly options: ListenOptions,
  ) {}

  accepted(id: Id): void {
    this.options.onAccept(new NativeEndpoint(this.addon, id))
  }

  close(): void {
    if (this.handle === null) return
    this.addon.listenerClose(this.handle)
    this.handle = null
  }
}

async function listen(addon: Addon, options: ListenOptions): Promise<Listener> {
  const address = isIP(options.host) === 0 ? await resolveHost(options.host) : options.host
  const listener = new NativeListener(addon, options)
  const result = addon.listen(listener, address, options.port, options.backlog)
  if (typeof result === 'number') {
    const code = errorCode(result)
    throw systemError(code, `listen ${code} ${address}:${options.port}`)
  }

  listener.handle = result
  listener.host = address
  listener.port = addon.listenerPort(result)
  return listener
}
