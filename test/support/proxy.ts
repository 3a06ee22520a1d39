import {type ChildProcess, spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {BIN, baseEnv} from './cli.js'
import {killInstanceGroups, pollUntil, rssKiB} from './processes.js'

export const SERVERS = fileURLToPath(new URL('../fixtures/servers/', import.meta.url))

export type Event = Record<string, any> & {event: string}

/**
 * An empty temp directory (in `parent`, the system's temp directory by default) marked as an app root (it
 * holds `.git`), so looking for a local gateway's state file stops there instead of finding one a gateway
 * left in the temp directory itself. Also the directory without a Procfile for tcp:proxy runs with --upstream.
 */
export function emptyAppRoot(prefix = 'scalingo-tcp-', parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, prefix))
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

const MEMORY_PROBE = fileURLToPath(new URL('../reliability/fixtures/memory-probe.mjs', import.meta.url))

export interface MemoryUsage {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export interface ProxyOptions {
  cwd: string
  env?: Record<string, string>
  /** Runs it under `sh -c 'ulimit -n N; exec node ...'`. */
  fdLimit?: number
  /** Which events to keep in `events` (all by default); every event is counted (load tests make hundreds of thousands). */
  keep?: (e: Event) => boolean
  /** Loads the memory probe: memory() then reports the gateway's memory after full collections. */
  memoryProbe?: boolean
  /** A file descriptor to give it as stdout instead of a pipe to this test (then no event is seen). */
  stdout?: number
  /** What runs tcp:proxy, up to the command id: default `node bin/run.js`; a host CLI (`node heroku/bin/run.js`), maybe wrapped. */
  launcher?: string[]
}

/**
 * `tcp:proxy --json` as a real subprocess: collects NDJSON events and lets a test wait for one.
 * Every wait is on an event, bounded by a deadline that only turns a hang into a clear failure.
 */
export class ProxyProcess {
  readonly events: Event[] = []
  readonly counts = new Map<string, number>()
  stderr = ''
  readonly child: ChildProcess
  readonly exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  private waiters: Array<{match: (e: Event) => boolean; resolve: (e: Event) => void}> = []
  private memoryWaiters: Array<(usage: MemoryUsage) => void> = []
  private buffer = ''
  private readonly keep: (e: Event) => boolean

  constructor(args: string[], options: ProxyOptions) {
    const [file, ...launcher] = options.launcher ?? [process.execPath, BIN]
    const command = [...launcher, 'tcp:proxy', '--json', ...args]
    const env = {...baseEnv(), ...options.env}
    if (options.memoryProbe) env.NODE_OPTIONS = `--import ${MEMORY_PROBE}`
    this.keep = options.keep ?? (() => true)
    this.child = options.fdLimit
      ? spawn('sh', ['-c', `ulimit -n ${options.fdLimit} && exec "$0" "$@"`, file, ...command], {cwd: options.cwd, env})
      : spawn(file, command, {cwd: options.cwd, env, stdio: ['ignore', options.stdout ?? 'pipe', 'pipe']})
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk))
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
      for (const match of chunk.matchAll(/^MEMORY (.+)$/gm))
        this.memoryWaiters.shift()?.(JSON.parse(match[1]) as MemoryUsage)
    })
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({code, signal})))
  }

  static start(args: string[], options: ProxyOptions): ProxyProcess {
    return new ProxyProcess(['--port', '0', ...args], options)
  }

  get pid(): number {
    return this.child.pid!
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  count(name: string): number {
    return this.counts.get(name) ?? 0
  }

  /** Resolves once `count(name)` reaches n (events are counted as they arrive, kept or not). */
  waitForCount(name: string, n: number, timeoutMs = 30_000): Promise<void> {
    return pollUntil(
      () => this.count(name) >= n,
      () => `${n} ${name} events (got ${this.count(name)})`,
      timeoutMs,
      10,
    )
  }

  /** Resolves with the first event (past or future) that matches. */
  waitFor(match: (e: Event) => boolean, timeoutMs = 15_000): Promise<Event> {
    const seen = this.events.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      // The predicate's source names what was awaited; the last events show where the run stood.
      const what = () =>
        `${String(match)}; last events: ${this.events
          .slice(-8)
          .map((e) => JSON.stringify(e))
          .join(' ')}; stderr: ${this.stderr}`
      const timer = setTimeout(() => reject(new Error(`no event ${what()} within ${timeoutMs} ms`)), timeoutMs)
      void this.exited.then(() => reject(new Error(`tcp:proxy exited before the event ${what()}`)))
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer)
          resolve(e)
        },
      })
    })
  }

  waitForEvent(name: string, fields: Record<string, unknown> = {}): Promise<Event> {
    return this.waitFor((e) => e.event === name && Object.entries(fields).every(([k, v]) => e[k] === v))
  }

  async port(): Promise<number> {
    return (await this.waitForEvent('gateway-listening')).port as number
  }

  /** The resident memory of the tcp:proxy process as the kernel counts it (VmRSS), in bytes. */
  rss(): number {
    const kib = rssKiB(this.pid)
    if (Number.isNaN(kib)) throw new Error(`no VmRSS for pid ${this.pid}`)
    return kib * 1024
  }

  /** The gateway's memory right after full collections (needs memoryProbe). */
  memory(): Promise<MemoryUsage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no MEMORY line within 10 s')), 10_000)
      this.memoryWaiters.push((usage) => {
        clearTimeout(timer)
        resolve(usage)
      })
      this.child.kill('SIGUSR2')
    })
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{code: number | null; signal: NodeJS.Signals | null}> {
    if (this.alive) this.child.kill(signal)
    return this.exited
  }

  /** After a test: a graceful stop (SIGKILL after `graceMs`), then SIGKILL whatever process group it left behind. */
  async cleanup(graceMs = 5000): Promise<{code: number | null; signal: NodeJS.Signals | null}> {
    if (this.alive) this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    const result = await this.exited
    clearTimeout(timer)
    killInstanceGroups(this.events)
    return result
  }

  private onData(chunk: string): void {
    this.buffer += chunk
    let newline: number
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline)
      this.buffer = this.buffer.slice(newline + 1)
      if (!line.trim()) continue
      const event = JSON.parse(line) as Event
      this.counts.set(event.event, (this.counts.get(event.event) ?? 0) + 1)
      if (this.keep(event)) this.events.push(event)
      if (this.waiters.length === 0) continue
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(event)) return true
        w.resolve(event)
        return false
      })
    }
  }
}
