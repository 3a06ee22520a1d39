import {formatDuration} from '../duration.js'
import {freePort} from '../gateway/ports.js'
import {waitForAccept} from '../gateway/readiness.js'
import type {ManagedProcess} from '../supervisor/supervisor.js'
import type {AppRuntime, Instance, ProcessType} from './model.js'

const LAST_LINES_REPORTED = 10

/**
 * The app's instances: spawns each on its PORT, probes tcp ones until they accept a connection (the
 * platform's readiness) and registers them with the gateway. Keeps the indexes the other parts use
 * to find an instance by gateway backend or by process.
 */
export class InstancePool {
  /** Every instance alive or starting, old and new generations side by side during a restart. */
  readonly all: Instance[] = []
  /** The generation of each tcp slot (`tcp-1`) that is serving, or supposed to be. */
  readonly serving = new Map<string, Instance>()
  generation = 1
  private readonly byBackend = new Map<string, Instance>()
  private readonly byProcess = new Map<ManagedProcess, Instance>()

  constructor(private readonly runtime: AppRuntime) {}

  processType(type: string): ProcessType | undefined {
    return this.runtime.options.formation.find((p) => p.type === type)
  }

  withBackend(backendId: string): Instance | undefined {
    return this.byBackend.get(backendId)
  }

  /** byProcess holds a process until its whole group is gone (its 'exited'), not just its shell. */
  holds(child: ManagedProcess): boolean {
    return this.byProcess.has(child)
  }

  /** The instance whose process group `pid` just ended; the process is forgotten. */
  takeExited(pid: number): Instance | undefined {
    for (const [child, instance] of this.byProcess) {
      if (child.pid !== pid) continue
      this.byProcess.delete(child)
      return instance
    }

    return undefined
  }

  /** First start of an instance, or its restart after a crash (same record, same generation). */
  async start(processType: ProcessType, index: number, previous?: Instance): Promise<boolean> {
    let instance = previous
    if (!instance) {
      const name = `${processType.type}-${index}`
      instance = {
        name,
        type: processType.type,
        index,
        generation: this.generation,
        state: 'booting',
        startedAt: Date.now(),
        crashes: 0,
        restarts: 0,
      }
      this.all.push(instance)
      if (processType.type === 'tcp') this.serving.set(name, instance)
    }

    if (!(await this.launch(instance, processType))) return false
    if (instance.type !== 'tcp') {
      instance.state = 'ready'
      return true
    }

    if (!(await this.awaitAccept(instance))) return false
    this.goLive(instance)
    return true
  }

  /** Spawns the process on its PORT and, for tcp, registers it with the gateway (not ready yet). */
  async launch(instance: Instance, processType: ProcessType): Promise<boolean> {
    const {options, supervisor, gateway} = this.runtime
    const isTcp = processType.type === 'tcp'
    const port = isTcp
      ? await freePort()
      : processType.type === 'web'
        ? options.webPort + instance.index - 1
        : undefined
    Object.assign(instance, {port, state: 'booting', startedAt: Date.now()})
    if (this.runtime.signal.aborted || instance.retired) return false

    const child = supervisor.start({
      id: instance.name,
      type: processType.type,
      command: processType.command,
      cwd: options.cwd,
      env: this.runtime.environmentFor(processType.type, instance.index, port),
    })
    instance.process = child
    this.byProcess.set(child, instance)
    this.runtime.emitEvent({
      event: 'instance-starting',
      instance: instance.name,
      type: processType.type,
      generation: instance.generation,
      pid: child.pid,
      port,
    })
    if (isTcp && port !== undefined) {
      instance.backendId = `${instance.name}#${instance.generation}`
      this.byBackend.set(instance.backendId, instance)
      gateway.addBackend({id: instance.backendId, host: '127.0.0.1', port, generation: instance.generation})
    }

    return true
  }

  /** The platform's readiness: one TCP connection accepted on PORT within the boot timeout. */
  async awaitAccept(instance: Instance): Promise<boolean> {
    const {options, signal: stopped} = this.runtime
    const child = instance.process!
    const port = instance.port!
    const cancelled = new AbortController()
    const onAbort = () => cancelled.abort()
    stopped.addEventListener('abort', onAbort)
    void child.exited.then(onAbort)
    try {
      await waitForAccept('127.0.0.1', port, {timeoutMs: options.bootTimeoutMs, signal: cancelled.signal})
    } catch {
      if (stopped.aborted) return false
      if (child.running) {
        const reason = `did not accept a TCP connection on PORT ${port} within ${formatDuration(options.bootTimeoutMs)}`
        this.bootFailed(instance, reason)
        await child.stop(options.graceMs)
      } else if (instance.candidate) {
        // Any other instance that exits while booting is a crash, reported by the crash recovery.
        this.bootFailed(instance, 'exited before accepting a TCP connection')
      }

      return false
    } finally {
      stopped.removeEventListener('abort', onAbort)
    }

    return child.running && !stopped.aborted && !instance.retired
  }

  goLive(instance: Instance): void {
    instance.state = 'ready'
    this.runtime.emitEvent({
      event: 'instance-ready',
      instance: instance.name,
      generation: instance.generation,
      port: instance.port!,
      bootMs: Date.now() - instance.startedAt,
    })
    this.runtime.gateway.setReady(instance.backendId!)
  }

  /** Ends the connections left on an instance the way --drop says. */
  dropConnections(instance: Instance): void {
    if (!instance.backendId) return
    const {drop} = this.runtime.options
    const count = this.runtime.gateway.dropConnections(instance.backendId, drop)
    if (count > 0)
      this.runtime.emitEvent({
        event: 'connections-dropped',
        instance: instance.name,
        generation: instance.generation,
        count,
        mode: drop,
      })
  }

  /** An instance that will never serve again: out of the gateway and out of the status. */
  forget(instance: Instance): void {
    clearTimeout(instance.restartTimer)
    if (instance.backendId) this.runtime.gateway.removeBackend(instance.backendId)
    const at = this.all.indexOf(instance)
    if (at !== -1) this.all.splice(at, 1)
  }

  cancelRestartTimers(): void {
    for (const instance of this.all) clearTimeout(instance.restartTimer)
  }

  /** The instance failed to boot (its last output lines go with the event); it is not restarted. */
  reportBootFailure(instance: Instance, reason: string): void {
    this.bootFailed(instance, reason)
  }

  private bootFailed(instance: Instance, reason: string): void {
    instance.state = 'failed'
    this.runtime.emitEvent({
      event: 'instance-boot-failed',
      instance: instance.name,
      generation: instance.generation,
      reason,
      lastLines: instance.process!.recentOutput(LAST_LINES_REPORTED),
    })
  }
}
