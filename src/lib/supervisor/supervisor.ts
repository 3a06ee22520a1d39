import {type ChildProcess, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {EventEmitter} from 'node:events'
import type {Readable} from 'node:stream'

import {LineSplitter} from './line-splitter.js'
import {startTimeOf} from './proc.js'
import {instanceScript} from './shell-command.js'
import {
  type GroupRecord,
  MARKER_VARIABLE,
  markedProcesses,
  markedProcessesAsync,
  signalProcesses,
  terminateProcesses,
} from './strays.js'

export interface ProcessSpec {
  /** Instance name, e.g. `tcp-1`. */
  id: string
  type: string
  command: string
  /** The complete environment of the child; the caller builds it (nothing is inherited but the supervisor's marker). */
  env: Record<string, string>
  cwd: string
}

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  /** True when we asked it to stop (stop(), stopAll(), killAll()). */
  expected: boolean
}

export type SupervisorEvent =
  | {type: 'spawned'; id: string; pid: number}
  | {type: 'output'; id: string; stream: 'stdout' | 'stderr'; line: string}
  | {type: 'exited'; id: string; pid: number; code: number | null; signal: NodeJS.Signals | null; expected: boolean}
  | {type: 'spawn-error'; id: string; error: string}

const RECENT_LINES_KEPT = 50
// how long to wait for the output pipes to close once the whole group has been SIGKILLed
const DRAIN_TIMEOUT_MS = 2000

/**
 * Sends a signal to a whole process group. Returns false when the group no longer exists (ESRCH).
 * Refuses pids that would target our own group (0) or every process (-1).
 */
export function killProcessGroup(pid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false
  try {
    process.kill(-pid, signal)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ESRCH') return false
    // EPERM: the group now holds a process that is not ours (pid reuse); leave it alone
    if (code === 'EPERM') return false
    throw error
  }
}

/**
 * One running instance: `/bin/sh -c command`, leader of its own process group, with a watchdog (see
 * instanceScript) that ends the group when this gateway dies, and a marker in its environment that
 * finds the descendants that left the group (see strays.ts).
 */
export class ManagedProcess {
  readonly id: string
  readonly pid: number
  /** The group leader's start time (Linux): tells the group from a later one reusing its id. */
  readonly startTime?: string
  readonly spec: ProcessSpec
  readonly startedAt: number
  readonly exited: Promise<ExitInfo>

  private readonly recent: string[] = []
  private leaderExited = false
  private finished = false
  private stopRequested = false
  private killSent = false
  private drainTimer?: NodeJS.Timeout
  private stopWaitingForOutput?: () => void
  private stopping?: Promise<ExitInfo>
  private resolveExited!: (info: ExitInfo) => void
  private watchdog?: {destroy(): void}

  /** `marker`: this instance's value of MARKER_VARIABLE, `<gateway marker>:<n>`. */
  constructor(
    spec: ProcessSpec,
    private readonly emit: (event: SupervisorEvent) => void,
    private readonly marker = '',
  ) {
    this.spec = spec
    this.id = spec.id
    this.startedAt = Date.now()
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve
    })

    let child: ChildProcess | undefined
    let spawnError: unknown
    try {
      // fd 3: the watchdog's end of a pipe whose other end only this process holds (libuv opens it close-on-exec)
      child = spawn('/bin/sh', ['-c', instanceScript(spec.command)], {
        cwd: spec.cwd,
        env: marker ? {...spec.env, [MARKER_VARIABLE]: marker} : spec.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      })
      const watchdog = child.stdio[3] as (Readable & {destroy(): void}) | null
      if (watchdog) {
        watchdog.on('error', () => {})
        this.watchdog = watchdog
      }
    } catch (error) {
      spawnError = error
    }

    if (!child || child.pid === undefined) {
      this.watchdog?.destroy()
      this.pid = 0
      this.leaderExited = true
      // spawn reports most failures (a missing cwd) asynchronously, and the caller needs the object first
      const report = (error: unknown) => this.failToSpawn(error)
      if (child) child.once('error', report)
      else process.nextTick(report, spawnError)
      return
    }

    this.pid = child.pid
    this.startTime = startTimeOf(this.pid)
    this.emit({type: 'spawned', id: this.id, pid: this.pid})
    this.watch(child)
  }

  get running(): boolean {
    return !this.leaderExited
  }

  /** The last lines of output, stdout and stderr interleaved as they arrived. */
  recentOutput(n = 20): string[] {
    return n <= 0 ? [] : this.recent.slice(-n)
  }

  /** Sends a signal to the whole process group (no-op once the leader has exited). */
  signal(sig: NodeJS.Signals): void {
    if (this.running) killProcessGroup(this.pid, sig)
  }

  /**
   * SIGTERM to the group; SIGKILL to what is left of it after graceMs. The leader exiting is not
   * the end: members still holding its output pipes get the rest of the grace period. Idempotent.
   */
  stop(graceMs: number): Promise<ExitInfo> {
    if (this.stopping) return this.stopping
    if (!this.running) {
      this.stopping = this.exited
      return this.stopping
    }

    this.stopRequested = true
    killProcessGroup(this.pid, 'SIGTERM')
    // descendants that left the group get the same SIGTERM (a few ms later: /proc is read without blocking) and the same grace
    this.signalStrays('SIGTERM', true)
    const timer = setTimeout(() => this.killLeftovers(), Math.max(0, graceMs))
    this.stopping = this.exited.finally(() => clearTimeout(timer))
    return this.stopping
  }

  /** SIGKILL to the group at once (also cuts a stop() short); counts as a requested stop. */
  kill(): void {
    if (this.finished) return
    if (this.running) this.stopRequested = true
    this.killLeftovers()
  }

  /**
   * Sends `signal` to the live descendants that carry this instance's marker, out of its group only or
   * in it too (Linux only). Asynchronous: a scan of /proc takes milliseconds, and the gateway keeps
   * forwarding meanwhile (a rolling restart stops instances while it serves).
   */
  private signalStrays(signal: NodeJS.Signals, outOfGroupOnly = false): void {
    if (!this.marker) return
    void markedProcessesAsync(this.marker, false).then(
      (strays) => signalProcesses(outOfGroupOnly ? strays.filter((p) => p.pgid !== this.pid) : strays, signal),
      () => {},
    )
  }

  private killLeftovers(): void {
    this.killSent = true
    killProcessGroup(this.pid, 'SIGKILL')
    this.signalStrays('SIGKILL')
    // something that escaped the group (setsid) may hold the pipes forever: do not wait for it long
    if (this.leaderExited && !this.drainTimer)
      this.drainTimer = setTimeout(() => this.stopWaitingForOutput?.(), DRAIN_TIMEOUT_MS)
  }

  private watch(child: ChildProcess): void {
    const streams: Array<['stdout' | 'stderr', Readable]> = [
      ['stdout', child.stdout!],
      ['stderr', child.stderr!],
    ]
    const drained = streams.map(
      ([name, stream]) =>
        new Promise<void>((resolve) => {
          const splitter = new LineSplitter((line) => this.onLine(name, line))
          stream.on('data', (chunk: Buffer) => splitter.write(chunk))
          stream.on('error', () => {}) // a broken pipe only ends the output; 'close' follows
          stream.once('close', () => {
            splitter.end()
            resolve()
          })
        }),
    )

    child.on('error', () => {}) // kill() failures surface as ESRCH in killProcessGroup instead
    child.once('exit', (code, signal) => {
      this.leaderExited = true
      const expected = this.stopRequested
      const outputDone = new Promise<void>((resolve) => {
        this.stopWaitingForOutput = resolve
        void Promise.all(drained).then(() => resolve())
      })
      // on its own exit the leader takes its group with it at once (grandchildren, `cmd &`); during a
      // stop the rest of the group keeps its grace period, ended by the stop timer
      if (!expected || this.killSent) this.killLeftovers()
      void outputDone.then(() => {
        clearTimeout(this.drainTimer)
        killProcessGroup(this.pid, 'SIGKILL') // members that hold no pipe (the watchdog among them)
        // an instance is a container: what it started outside its group ends with it
        this.signalStrays('SIGKILL')
        for (const [, stream] of streams) stream.destroy()
        this.watchdog?.destroy()
        this.finish({code, signal, expected})
      })
    })
  }

  private onLine(stream: 'stdout' | 'stderr', line: string): void {
    this.recent.push(line)
    if (this.recent.length > RECENT_LINES_KEPT) this.recent.shift()
    this.emit({type: 'output', id: this.id, stream, line})
  }

  private failToSpawn(error: unknown): void {
    const reason =
      (error as NodeJS.ErrnoException)?.code === 'ENOENT'
        ? `cannot start /bin/sh in ${this.spec.cwd} (does the directory exist?)`
        : ((error as Error)?.message ?? String(error))
    this.emit({type: 'spawn-error', id: this.id, error: reason})
    this.finish({code: null, signal: null, expected: false})
  }

  private finish(info: ExitInfo): void {
    this.finished = true
    this.emit({type: 'exited', id: this.id, pid: this.pid, ...info})
    this.resolveExited(info)
  }
}

/**
 * Starts and stops processes and reports what they do as 'event's, and the set of its live process
 * groups as 'groups' whenever it changes (the state file records them). It knows nothing of ports or
 * restarts (the caller decides) and never prints.
 */
export class Supervisor extends EventEmitter<{event: [SupervisorEvent]; groups: [GroupRecord[]]}> {
  /** MARKER_VARIABLE's value for this supervisor's instances is `<marker>:<n>`. */
  readonly marker = `${process.pid}:${randomBytes(6).toString('hex')}`
  private readonly live = new Set<ManagedProcess>()
  private started = 0

  start(spec: ProcessSpec): ManagedProcess {
    const managed = new ManagedProcess(
      spec,
      (event) => {
        if (event.type === 'exited' && this.live.delete(managed)) this.emit('groups', this.groups())
        this.emit('event', event)
      },
      `${this.marker}:${++this.started}`,
    )
    if (managed.running) {
      this.live.add(managed)
      this.emit('groups', this.groups())
    }

    return managed
  }

  /** The process groups of the live processes. */
  groups(): GroupRecord[] {
    return this.processes().map((managed) => ({pgid: managed.pid, startTime: managed.startTime}))
  }

  /** Processes whose 'exited' event has not been emitted yet. */
  processes(): ManagedProcess[] {
    return [...this.live]
  }

  /**
   * Stops every process (see ManagedProcess.stop), then SIGKILLs anything still carrying this
   * supervisor's marker (a daemon forked during the grace period, a descendant of an instance that
   * crashed) and waits, bounded, until it is gone.
   */
  async stopAll(graceMs: number): Promise<void> {
    await Promise.all(this.processes().map((managed) => managed.stop(graceMs)))
    await terminateProcesses(() => markedProcessesAsync(`${this.marker}:`, true), 0)
  }

  /** Immediate SIGKILL of every group and marked process (second Ctrl-C); synchronous, so usable in an 'exit' handler. */
  killAll(): void {
    for (const managed of this.live) managed.kill()
    signalProcesses(markedProcesses(`${this.marker}:`, true), 'SIGKILL')
  }
}
