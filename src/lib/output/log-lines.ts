import type {ChalkInstance} from 'chalk'

import {redact} from '../secrets.js'

const PALETTE = ['cyan', 'yellow', 'green', 'magenta', 'blue', 'redBright', 'cyanBright', 'yellowBright'] as const

/** Where lines go: a function is only called for a line really written (see OutputWriter). */
export interface LineSink {
  write(line: string | (() => string), keep?: boolean): unknown
}

/**
 * foreman-style prefixed log lines (`tcp-1   | ...`), one colour per instance, the gateway's own lines
 * under `gateway`. Every line goes out in a single write, so lines from different processes never
 * interleave mid-line.
 */
export class LogPrinter {
  private readonly colors = new Map<string, (typeof PALETTE)[number]>()
  private width = 7

  constructor(
    private readonly sink: LineSink,
    private readonly chalk: ChalkInstance,
    private readonly options: {timestamps?: boolean} = {},
  ) {}

  /** Pre-registers prefixes so the column is aligned from the first line. */
  register(names: string[]): void {
    for (const name of names) this.width = Math.max(this.width, name.length)
  }

  /** `keep`: the line survives a flood of others (default: the gateway's own lines do). */
  line(source: string, text: string, kind: 'out' | 'err' | 'gateway' = 'out', keep = kind === 'gateway'): void {
    this.sink.write(() => this.format(source, text, kind), keep)
  }

  /** The line as printed, newline included. */
  format(source: string, text: string, kind: 'out' | 'err' | 'gateway' = 'out'): string {
    this.width = Math.max(this.width, source.length)
    const color = source === 'gateway' ? 'white' : this.colorOf(source)
    const stamp = this.options.timestamps ? this.chalk.dim(new Date().toISOString().slice(11, 23)) + ' ' : ''
    const prefix = this.chalk[color](`${source.padEnd(this.width)} |`)
    const body = kind === 'gateway' ? this.chalk.bold(text) : text
    return `${stamp}${prefix} ${redact(body)}\n`
  }

  private colorOf(source: string): (typeof PALETTE)[number] {
    let color = this.colors.get(source)
    if (!color) {
      color = PALETTE[this.colors.size % PALETTE.length]
      this.colors.set(source, color)
    }

    return color
  }
}
