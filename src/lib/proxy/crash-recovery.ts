import {CliError} from '../errors.js'
import type {SupervisorEvent} from '../supervisor/supervisor.js'
import {crashRestartDelay, DEFAULT_BACKOFF_BASE_MS} from './crash-policy.js'
import type {InstancePool} from './instance.js'
import type {AppRuntime, Instance} from './model.js'

type ExitEvent = Extract<SupervisorEvent, {type: 'exited'}>

/**
 * What happens when an instance's process group ends. Asked for (a stop, a retired generation): it is
 * just stopped. On its own: a crash, handled as on the platform: out of the balancing at once, its
 * connections dropped per --drop, restarted at once then with backoff, given up after --max-crashes.
 */
export class CrashRecovery {
  /** True while LocalApp.start() waits for the first boot of every instance. */
  startingUp = false

  constructor(
    private readonly runtime: AppRuntime,
    private readonly pool: InstancePool,
    /** Called once every tcp instance has been given up: the app can no longer serve anybody. */
    private readonly onAllGaveUp: (error: CliError) => void,
  ) {}

  onExited(e: ExitEvent): void {
    const instance = this.pool.takeExited(e.pid)
    if (!instance) return
    this.runtime.emitEvent({
      event: 'instance-exited',
      instance: instance.name,
      generation: instance.generation,
      pid: e.pid,
      code: e.code,
      signal: e.signal,
      expected: e.expected,
    })
    if (e.expected || this.runtime.signal.aborted) {
      if (instance.state !== 'failed') instance.state = 'stopped'
      return
    }

    // A new generation that dies while booting is the rolling restart's to retry.
    if (instance.candidate) return
    this.onCrash(instance)
  }

  private onCrash(instance: Instance): void {
    const {gateway, options} = this.runtime
    const wasBooting = instance.state === 'booting'
    instance.state = 'crashed'
    if (instance.backendId) {
      gateway.markDown(instance.backendId)
      this.pool.dropConnections(instance)
      gateway.removeBackend(instance.backendId)
    }

    // Replaced by a newer generation already: nothing to bring back.
    if (instance.retired) return

    // Decision: --max-crashes does not apply to the very first boot. tcp:proxy's start-up is the
    // local deployment, and the platform fails a deployment whose container never becomes ready
    // (tcp-gateway.md) instead of restarting it. A tcp instance that exits before it was ever ready
    // is nearly always a bug in its command (a typo, a missing module, the wrong port): restarting it
    // with backoff up to --max-crashes times (13 by default, about 8 minutes) would only bury its
    // last output under retries. So it is not restarted, and the log says so (it used to announce
    // "restarting in 1.0 s" and then shut down at once). The start fails when no tcp instance became
    // ready; if others did, the gateway serves with them and a rolling restart brings it back.
    // --max-crashes counts the crashes after that: of instances that had become ready, and their restarts.
    if (this.startingUp && wasBooting && instance.type === 'tcp' && instance.restarts === 0) {
      this.pool.reportBootFailure(
        instance,
        `exited before accepting a TCP connection on PORT ${instance.port}: not restarted, a start-up fails like a deployment on the platform (--max-crashes counts crashes once an instance has been ready)`,
      )
      return
    }

    instance.crashes++
    if (instance.crashes > options.maxCrashes) {
      instance.state = 'failed'
      this.runtime.emitEvent({event: 'instance-gave-up', instance: instance.name, crashes: instance.crashes - 1})
      this.checkAllGaveUp()
      return
    }

    const delay = crashRestartDelay(instance.crashes, wasBooting, options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS)
    this.runtime.emitEvent({
      event: 'instance-restarting',
      instance: instance.name,
      generation: instance.generation,
      inMs: delay,
      crashes: instance.crashes,
    })
    const processType = this.pool.processType(instance.type)!
    instance.restartTimer = setTimeout(() => {
      instance.restartTimer = undefined
      if (instance.retired || this.runtime.signal.aborted) return
      instance.restarts++
      void this.pool.start(processType, instance.index, instance)
    }, delay)
  }

  private checkAllGaveUp(): void {
    const tcp = [...this.pool.serving.values()]
    if (tcp.length > 0 && tcp.every((i) => i.state === 'failed') && this.runtime.options.upstreams.length === 0) {
      this.onAllGaveUp(
        new CliError('Every tcp instance crashed too often and was given up.', {
          suggestions: [
            "Read the instances' last output lines above to find why they exit.",
            'Raise --max-crashes to keep restarting them longer.',
          ],
        }),
      )
    }
  }
}
