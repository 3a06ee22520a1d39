import {type ChildProcess, spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {BIN, baseEnv} from './cli.js'
import {killInstanceGroups} from './processes.js'

export const SERVERS = fileURLToPath(new URL('../fixtures/servers/', import.meta.url))

export type Event = Record<string, any> & {event: string}

/**
 * An empty temp directory marked as an app root (it holds `.git`), so looking for a local gateway's
 * state file stops there instead of finding one a gateway left in the temp directory itself.
 */
export function emptyAppRoot(prefix = 'scalingo-tcp-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  mkdirSync(join(dir, '.git'))
  return dir
}

/** A temp app directory with the given Procfile (and optional .env). */
export function makeApp(procfile: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-app-'))
  writeFileSync(join(dir, 'Procfile'), procfile)
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
  return dir
}

/**
 * `tcp:proxy --json` as a real subprocess: collects NDJSON events and lets a test wait for one.
 * Every wait is on an event, bounded by a deadline that only turns a hang into a clear failure.
 */
export class ProxyProcess {
  readonly events: Event[] = []
  stderr = ''
  readonly child: ChildProcess
  readonly exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  private waiters: Array<{match: (e: Event) => boolean; resolve: (e: Event) => void}> = []
  private buffer = ''

  constructor(args: string[], options: {cwd: string; env?: Record<string, string>}) {
    this.child = spawn(process.execPath, [BIN, 'tcp:proxy', '--json', ...args], {
      cwd: options.cwd,
      env: {...baseEnv(), ...options.env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk))
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk))
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({code, signal})))
  }

  static start(args: string[], options: {cwd: string; env?: Record<string, string>}): ProxyProcess {
    return new ProxyProcess(['--port', '0', ...args], options)
  }

  /** Resolves with the first event (past or future) that matches. */
  waitFor(match: (e: Event) => boolean, timeoutMs = 15_000): Promise<Event> {
    const seen = this.events.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching event in ${timeoutMs} ms; stderr: ${this.stderr}\nevents: ${this.events.map((e) => JSON.stringify(e)).join('\n')}`)), timeoutMs)
      const onExit = () => reject(new Error(`tcp:proxy exited before the event; stderr: ${this.stderr}`))
      void this.exited.then(onExit)
      this.waiters.push({match, resolve: (e) => {
        clearTimeout(timer)
        resolve(e)
      }})
    })
  }

  waitForEvent(name: string, fields: Record<string, unknown> = {}): Promise<Event> {
    return this.waitFor((e) => e.event === name && Object.entries(fields).every(([k, v]) => e[k] === v))
  }

  async port(): Promise<number> {
    return (await this.waitForEvent('gateway-listening')).port as number
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{code: number | null; signal: NodeJS.Signals | null}> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return this.exited
  }

  /** After a test: a graceful stop, then SIGKILL whatever process group it may have left behind. */
  async cleanup(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM')
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
      await this.exited
      clearTimeout(timer)
    }

    killInstanceGroups(this.events)
  }

  private onData(chunk: string): void {
    this.buffer += chunk
    let newline: number
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline)
      this.buffer = this.buffer.slice(newline + 1)
      if (!line.trim()) continue
      const event = JSON.parse(line) as Event
      this.events.push(event)
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(event)) return true
        w.resolve(event)
        return false
      })
    }
  }
}

/** Connects, sends `message`, resolves with everything received until the server ends. */
export function exchange(port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => {
      received += d
      if (received.length >= message.length) socket.end()
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(received))
    socket.write(message)
  })
}
