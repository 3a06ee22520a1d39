import {type ChildProcessWithoutNullStreams, spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {BIN, baseEnv} from './cli.js'

// CSI sequences (colours, cursor moves), character-set selections (ESC ( B) and carriage returns.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001B\[[0-9;?]*[A-Za-z]|\u001B[()][A-Z0-9]|\r/g

/** What a terminal shows as plain text: escape sequences and carriage returns removed. */
export function stripAnsi(text: string): string {
  return text.replaceAll(ANSI, '')
}

const DRIVER = fileURLToPath(new URL('pty-driver.py', import.meta.url))

export interface TtyExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/**
 * The built CLI on a pseudo-terminal of 120x40 (Python's pty module, pty-driver.py): stdin, stdout and
 * stderr are a TTY, as in a user's terminal, and the CLI leads its session as a login shell would.
 * `output` is what the terminal shows (stdout and stderr mixed, with \r\n).
 */
export class TtyCli {
  output = ''
  readonly child: ChildProcessWithoutNullStreams
  /** The CLI's exit code (128 + signal when a signal killed it), once the terminal is closed. */
  readonly exited: Promise<number | null>
  /** How the CLI itself ended: its exit code, or the signal that killed it (a crash shows here). */
  readonly status: Promise<TtyExit>
  /** The CLI's own pid. */
  readonly pid: Promise<number>
  private waiters: Array<() => void> = []

  constructor(args: string[], options: {env?: Record<string, string>; cwd?: string} = {}) {
    this.child = spawn('python3', [DRIVER, '120', '40', process.execPath, BIN, ...args], {
      cwd: options.cwd,
      env: {...baseEnv(), TERM: 'xterm', ...options.env},
      stdio: 'pipe',
    })
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk
      for (const waiter of this.waiters) waiter()
    })
    let driverErr = ''
    let gotPid!: (pid: number) => void
    let gotStatus!: (status: TtyExit) => void
    this.pid = new Promise((resolve) => (gotPid = resolve))
    this.status = new Promise((resolve) => (gotStatus = resolve))
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      driverErr += chunk
      const pid = /^pty-driver pid (\d+)$/m.exec(driverErr)
      if (pid) gotPid(Number(pid[1]))
      const exit = /^pty-driver exit (.+)$/m.exec(driverErr)
      if (exit) gotStatus(JSON.parse(exit[1]) as TtyExit)
    })
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)))
    void this.exited.then(() => gotStatus({code: null, signal: null}))
  }

  /**
   * Closes the terminal as closing its window or losing the SSH connection does: the master side of
   * the pty goes away, the kernel sends SIGHUP and the terminal answers EOF and EIO from then on.
   */
  hangup(): void {
    this.child.kill('SIGUSR1')
  }

  /** Resolves once the terminal shows `pattern` (a string it includes, or a match; ANSI codes stripped). */
  waitFor(pattern: string | RegExp, timeoutMs = 10_000): Promise<void> {
    const shows = (text: string) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text))
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!shows(stripAnsi(this.output))) return
        clearTimeout(timer)
        this.waiters = this.waiters.filter((w) => w !== check)
        resolve()
      }

      const timer = setTimeout(
        () => reject(new Error(`terminal never showed ${pattern}; it shows:\n${stripAnsi(this.output)}`)),
        timeoutMs,
      )
      this.waiters.push(check)
      void this.exited.then(() => {
        check()
        reject(new Error(`exited before showing ${pattern}; it shows:\n${stripAnsi(this.output)}`))
      })
      check()
    })
  }

  type(keys: string): void {
    this.child.stdin.write(keys)
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}
