import {EventEmitter} from 'node:events'

/**
 * Output kept waiting for a reader slower than the app (a terminal, `| less`, a log shipper) before
 * lines are dropped. 1 MiB is seconds of a busy app's log at the speed a person reads it, and a small
 * part of the gateway's memory. A reader further behind than that has stopped reading: waiting for it
 * would grow memory without bound (or, by not reading the instances' pipes, stall the instances).
 */
export const PENDING_OUTPUT_LIMIT = 1024 * 1024

/**
 * Lines written with `keep` (the gateway's own lifecycle events: a script waits for them) are still
 * queued while instance output is being dropped, up to this much in all: memory stays bounded even if
 * those events never stop coming.
 */
export const PENDING_KEPT_LIMIT = 4 * 1024 * 1024

/** Queued lines go out joined in chunks of about this size: one write per chunk, not one per line. */
const CHUNK_BYTES = 64 * 1024

export interface OutputWriterOptions {
  limit?: number
  keptLimit?: number
  /** The line written where lines went missing, once the reader has caught up (or at the end). */
  droppedNotice(count: number): string
}

/**
 * Owns one output stream (tcp:proxy's stdout): everything written to it goes through here. Writing
 * never blocks and never throws. While the reader keeps up, lines go straight to the stream; while it
 * does not (the stream asks to wait for 'drain'), they queue up to a bounded size; beyond it lines are
 * dropped and counted, and once the reader has caught up with the queue a single notice line (from
 * `droppedNotice`) says how many went missing, where they went missing. The first write error (EPIPE,
 * EIO, ENOSPC...) is reported once as 'failed'; from then on writes are ignored.
 */
export class OutputWriter extends EventEmitter<{failed: [NodeJS.ErrnoException]}> {
  private readonly limit: number
  private readonly keptLimit: number
  private queue: string[] = []
  private queuedBytes = 0
  /** Writes handed to the stream whose callback has not run yet. */
  private inFlight = 0
  private waitingForDrain = false
  /** Set from the first dropped line until the queue has drained: the gap the notice reports. */
  private dropping = false
  private dropped = 0
  private failure?: NodeJS.ErrnoException
  private idleWaiters: Array<() => void> = []

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly options: OutputWriterOptions,
  ) {
    super()
    this.limit = options.limit ?? PENDING_OUTPUT_LIMIT
    this.keptLimit = options.keptLimit ?? PENDING_KEPT_LIMIT
    stream.on('error', (error: NodeJS.ErrnoException) => this.fail(error))
    stream.on('drain', () => {
      this.waitingForDrain = false
      this.pump()
    })
  }

  /** The write error that ended this output, if one did. */
  get error(): NodeJS.ErrnoException | undefined {
    return this.failure
  }

  /** Lines dropped since the last notice. */
  get droppedLines(): number {
    return this.dropped
  }

  /**
   * Writes `text` (a whole line with its newline), or drops it: false when dropped or failed. A
   * function is only called when the line will really be written, so a dropped line costs no
   * formatting. `keep` lines survive a flood of ordinary ones (see PENDING_KEPT_LIMIT).
   */
  write(text: string | (() => string), keep = false): boolean {
    if (this.failure) return false
    if (this.dropping && !keep) return this.drop()
    const line = typeof text === 'function' ? text() : text
    if (!this.waitingForDrain && this.queue.length === 0) {
      this.send(line)
      return true
    }

    const bytes = Buffer.byteLength(line)
    if (this.queuedBytes + bytes > (keep ? this.keptLimit : this.limit)) return this.drop()
    this.queue.push(line)
    this.queuedBytes += bytes
    return true
  }

  /**
   * Resolves true once everything written so far has been handed to the system (the notice of a
   * last gap included), false when that fails or takes longer than `timeoutMs`: a reader that never
   * comes back must not keep the process alive.
   */
  finish(timeoutMs: number): Promise<boolean> {
    if (this.dropping) this.closeGap()
    if (this.failure) return Promise.resolve(false)
    if (this.idle) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      timer.unref()
      this.idleWaiters.push(() => {
        clearTimeout(timer)
        resolve(!this.failure)
      })
    })
  }

  private get idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0
  }

  private drop(): false {
    this.dropping = true
    this.dropped++
    return false
  }

  /** Writes the notice for the lines dropped so far (after what was queued before and during the gap). */
  private closeGap(): void {
    const notice = this.options.droppedNotice(this.dropped)
    this.dropping = false
    this.dropped = 0
    if (this.waitingForDrain || this.queue.length > 0) {
      this.queue.push(notice)
      this.queuedBytes += Buffer.byteLength(notice)
    } else {
      this.send(notice)
    }
  }

  private send(chunk: string): void {
    this.inFlight++
    const more = this.stream.write(chunk, (error?: Error | null) => {
      this.inFlight--
      if (error) this.fail(error as NodeJS.ErrnoException)
      else if (this.idle) this.wakeIdleWaiters()
    })
    if (!more) this.waitingForDrain = true
  }

  /** The reader took what it had: hand it the queue, a chunk at a time, while it keeps taking. */
  private pump(): void {
    while (!this.waitingForDrain && !this.failure && this.queue.length > 0) {
      let size = 0
      let count = 0
      while (count < this.queue.length && (count === 0 || size < CHUNK_BYTES)) size += this.queue[count++].length
      const taken = this.queue.splice(0, count)
      const chunk = count === 1 ? taken[0] : taken.join('')
      this.queuedBytes = this.queue.length === 0 ? 0 : Math.max(0, this.queuedBytes - Buffer.byteLength(chunk))
      this.send(chunk)
    }

    // caught up with everything queued: the reader is back, say what it missed
    if (this.dropping && !this.waitingForDrain && !this.failure && this.queue.length === 0) this.closeGap()
  }

  private fail(error: NodeJS.ErrnoException): void {
    if (this.failure) return
    this.failure = error
    this.queue = []
    this.queuedBytes = 0
    this.wakeIdleWaiters()
    this.emit('failed', error)
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const wake of waiters) wake()
  }
}
