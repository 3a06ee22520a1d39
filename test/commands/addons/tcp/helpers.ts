import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {baseEnv, BIN, type CliResult, ROOT, runCli} from '../../../support/cli.js'
import {FakeScalingo} from '../../../support/fake-scalingo.js'

export const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`

// eslint-disable-next-line no-control-regex
const ANSI = /\u001B\[[0-9;?]*[A-Za-z]|\u001B[()][A-Z0-9]|\r/g
export const stripAnsi = (text: string) => text.replaceAll(ANSI, '')

/** oclif wraps error lines behind a ' ›' gutter: join them back for matching. */
export const unwrap = (text: string) => text.replaceAll(/\s*\n ›\s+/g, ' ')

/** Runs the CLI, waits for `pattern` on stderr, then sends SIGINT as Ctrl-C does; `sawPattern` says whether it did. */
export function interruptCli(
  args: string[],
  pattern: RegExp,
  options: {env?: Record<string, string | undefined>; cwd?: string} = {},
): Promise<CliResult & {sawPattern: boolean}> {
  const env = {...baseEnv(), ...(options.env as Record<string, string>)}
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {cwd: options.cwd ?? ROOT, env, stdio: 'pipe'})
    let stdout = ''
    let stderr = ''
    let sawPattern = false
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
      if (!sawPattern && pattern.test(stderr)) {
        sawPattern = true
        child.kill('SIGINT')
      }
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr, sawPattern})
    })
    child.stdin.end()
  })
}

/** A fake platform, a throw-away HOME, and a way to run the CLI against them with fast polling. */
export class Harness {
  fake = new FakeScalingo()
  home = ''
  private readonly dirs: string[] = []

  async start(): Promise<void> {
    await this.fake.start()
    this.fake.addUser(TOKEN)
    this.home = this.tempDir('home')
  }

  async stop(): Promise<void> {
    await this.fake.stop()
    for (const dir of this.dirs) rmSync(dir, {recursive: true, force: true})
  }

  tempDir(name: string): string {
    const dir = mkdtempSync(join(tmpdir(), `scalingo-tcp-addons-${name}-`))
    this.dirs.push(dir)
    return dir
  }

  env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      HOME: this.home,
      ...this.fake.env(),
      SCALINGO_API_TOKEN: TOKEN,
      SCALINGO_TCP_RETRY_BASE_MS: '5',
      SCALINGO_TCP_POLL_INTERVAL_MS: '5',
      ...extra,
    }
  }

  cli(args: string[], options: {env?: Record<string, string | undefined>; cwd?: string} = {}): Promise<CliResult> {
    return runCli(args, {env: this.env(options.env), cwd: options.cwd})
  }

  /** Starts the CLI, waits for `pattern` on stderr, then sends SIGINT (what Ctrl-C does). */
  interrupt(args: string[], pattern: RegExp, options: {cwd?: string} = {}): Promise<CliResult & {sawPattern: boolean}> {
    return interruptCli(args, pattern, {env: this.env(), cwd: options.cwd})
  }

  /**
   * Runs the CLI in a pseudo-terminal (util-linux `script`), so stdin, stdout and stderr are TTYs;
   * each step waits for its text in the terminal output, then types its keys.
   */
  pty(
    args: string[],
    steps: Array<{waitFor: string | RegExp; keys: string}>,
    options: {cwd?: string} = {},
  ): Promise<{code: number | null; output: string; raw: string}> {
    const env = {...baseEnv(), ...(this.env() as Record<string, string>), TERM: 'xterm'}
    const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`
    // `script` sizes the pty from its own stdin, a pipe here: give it a real size as a terminal would have.
    const command = `stty cols 120 rows 40; exec ${[process.execPath, BIN, ...args].map(quote).join(' ')}`
    return new Promise((resolve, reject) => {
      const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
        cwd: options.cwd ?? ROOT,
        env,
        stdio: 'pipe',
      })
      let output = ''
      let step = 0
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      const advance = () => {
        const clean = stripAnsi(output)
        while (step < steps.length) {
          const {waitFor, keys} = steps[step]
          if (!(typeof waitFor === 'string' ? clean.includes(waitFor) : waitFor.test(clean))) return
          step++
          child.stdin.write(keys)
        }
      }

      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        output += d
        advance()
      })
      child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        child.stdin.destroy()
        resolve({code, output: stripAnsi(output), raw: output})
      })
    })
  }
}
