import type {ProxyEvent} from '../contract.js'
import type {InstancePool} from './instance.js'
import type {RestartRequest} from './rolling-restart.js'

/**
 * --chaos: restarts one random serving tcp instance after a random delay in [minMs, maxMs], again and
 * again, the way the platform's scheduler may restart a container at any moment.
 */
export class ChaosScheduler {
  private timer?: NodeJS.Timeout
  private stopped = false

  constructor(
    private readonly interval: {minMs: number; maxMs: number},
    private readonly pool: InstancePool,
    private readonly restarts: {running: boolean; request(request: RestartRequest): Promise<unknown>},
    private readonly emitEvent: (event: ProxyEvent) => void,
  ) {}

  start(): void {
    if (this.stopped) return
    const {minMs, maxMs} = this.interval
    this.timer = setTimeout(
      () => {
        this.start()
        this.restartOne()
      },
      minMs + Math.random() * (maxMs - minMs),
    )
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /** As the scheduler: one instance that is serving, never on top of a restart in progress. */
  private restartOne(): void {
    const candidates = [...this.pool.serving.values()].filter((i) => i.state === 'ready')
    if (this.restarts.running || candidates.length === 0) return
    const victim = candidates[Math.floor(Math.random() * candidates.length)]
    this.emitEvent({event: 'chaos-restart', instance: victim.name, generation: victim.generation})
    // A failed chaos restart is reported by its events; the old generation keeps serving.
    this.restarts.request({reason: 'chaos', only: [victim.name]}).catch(() => {})
  }
}
