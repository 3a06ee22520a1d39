import {type ChildProcessWithoutNullStreams, spawn} from 'node:child_process'

import {BIN, baseEnv} from './cli.js'

// eslint-disable-next-line no-control-regex
const ANSI = /\u001B\[[0-9;?]*[A-Za-z]/g

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '')
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`
}

/**
 * The built CLI on a pseudo-terminal (util-linux `script`) of 120x40: stdin, stdout and stderr are a
 * TTY, as in a user's terminal. `output` is what the terminal shows (stdout and stderr mixed, with \r\n).
 */
export class TtyCli {
  output = ''
  readonly child: ChildProcessWithoutNullStreams
  readonly exited: Promise<number | null>
  private waiters: Array<() => void> = []

  constructor(args: string[], options: {env?: Record<string, string>; cwd?: string} = {}) {
    // `script` sizes the pty from its own stdin, a pipe here (0 columns): give it a user's terminal size.
    const command = `stty cols 120 rows 40; exec ${[process.execPath, BIN, ...args].map(shellQuote).join(' ')}`
    this.child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: options.cwd,
      env: {...baseEnv(), TERM: 'xterm', ...options.env},
      stdio: 'pipe',
    })
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk
      for (const waiter of this.waiters) waiter()
    })
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)))
  }

  /** Resolves once the terminal shows text matching `pattern` (ANSI codes stripped). */
  waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pattern.test(stripAnsi(this.output))) return
        clearTimeout(timer)
        this.waiters = this.waiters.filter((w) => w !== check)
        resolve()
      }

      const timer = setTimeout(() => reject(new Error(`terminal never showed ${pattern}; it shows:\n${stripAnsi(this.output)}`)), timeoutMs)
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
