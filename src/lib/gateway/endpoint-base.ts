import {lookup} from 'node:dns'
import {isIP} from 'node:net'

import {errorCode} from './system.js'
import type {Endpoint, EndpointHandler} from './transport.js'

/** Where an endpoint's FIN stands: not asked for, asked for once queued writes are out, sent, acknowledged. */
export const Shutdown = {None: 0, AfterWrites: 1, Sent: 2, Done: 3} as const

/**
 * What the endpoints of the handle and native transports share: connecting to a host name (resolved first), and
 * how an endpoint ends: once the peer's FIN arrived (readEnded) and ours is out (shutdownDone), it closes and
 * reports onClose(null); after finish() it closes as soon as ours is out, whatever the peer does; a failure closes
 * it and reports the code. Subclasses connect to an IP (connectTo), send the FIN (end) and close the socket (close).
 */
export abstract class EndpointBase implements Endpoint {
  handler: EndpointHandler | null = null
  closed = false
  /** The peer's FIN arrived. */
  protected ended = false
  protected shutdownState: number = Shutdown.None
  protected closeOnceShutdown = false

  abstract readonly pendingBytes: number
  abstract readStart(): void
  abstract readStop(): void
  abstract write(buffer: Buffer, length: number): boolean
  abstract end(): void
  abstract close(): void
  abstract reset(): void
  abstract remoteAddress(): string
  /** Starts connecting to an IP address; the outcome reaches the handler later, never synchronously. */
  protected abstract connectTo(ip: string, port: number): void

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

  connectFailed(code: string): void {
    if (this.closed) return
    this.close()
    this.handler?.onConnectFailed(this, code)
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

  protected closeIfDone(): void {
    if (this.closed) return
    if (this.shutdownState === Shutdown.Done && (this.ended || this.closeOnceShutdown)) this.closeItself()
  }

  protected closeItself(): void {
    this.close()
    this.handler?.onClose(this, null)
  }
}
