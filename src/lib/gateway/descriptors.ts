import {readdirSync, readFileSync} from 'node:fs'

/**
 * File descriptor accounting, so the gateway refuses (and reports) clients it could not serve
 * instead of letting accept() hit EMFILE: there, libuv closes pending connections itself and, when
 * it drains them all, tells nobody. Linux only (/proc); elsewhere there is no budget.
 */
export class DescriptorBudget {
  readonly limit: number
  private baseline: number

  /** Descriptors kept free for what else the process opens: probes, the control server, instance pipes. */
  static readonly RESERVE = 16

  constructor() {
    this.limit = softLimit()
    this.baseline = Number.isFinite(this.limit) ? countOpen() : 0
  }

  /**
   * Whether a client just accepted can also get its backend socket. `active` connections hold two
   * descriptors each; only near the limit is the real count read, since other parts open and close
   * descriptors of their own.
   */
  allows(active: number): boolean {
    if (!Number.isFinite(this.limit)) return true
    if (this.baseline + 2 * active + 2 * DescriptorBudget.RESERVE < this.limit) return true
    const open = countOpen()
    this.baseline = Math.max(0, open - 2 * active)
    return open + 1 + DescriptorBudget.RESERVE <= this.limit
  }
}

function softLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
    return soft && /^\d+$/.test(soft) ? Number(soft) : Number.POSITIVE_INFINITY
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

function countOpen(): number {
  try {
    return readdirSync('/proc/self/fd').length - 1 // the directory handle readdir itself opened
  } catch {
    return 0
  }
}
