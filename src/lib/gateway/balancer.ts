import {Backend} from './backend.js'
import {GatewayError} from './errors.js'
import type {BackendSpec, BackendState, BalanceMode} from './types.js'

/**
 * The backends and which one a new connection goes to: every registered backend, the ready ones (the only ones a
 * new connection may get, in the order they were added) and the rotation's cursor.
 */
export class Balancer {
  private readonly registry = new Map<string, Backend>()
  /** The backends eligible for new connections, in the order they were added. */
  private ready: Backend[] = []
  private cursor = 0

  constructor(readonly mode: BalanceMode) {}

  /** Whether any backend takes new connections. */
  get hasReady(): boolean {
    return this.ready.length > 0
  }

  get(id: string): Backend | undefined {
    return this.registry.get(id)
  }

  all(): IterableIterator<Backend> {
    return this.registry.values()
  }

  add(spec: BackendSpec): void {
    if (this.registry.has(spec.id)) {
      throw new GatewayError('EBACKENDEXISTS', `Backend ${spec.id} is already registered.`, {backend: spec.id})
    }

    this.registry.set(spec.id, new Backend(spec))
  }

  remove(id: string): void {
    const backend = this.registry.get(id)
    if (!backend) return
    this.registry.delete(id)
    if (backend.state === 'ready') this.refreshReady()
  }

  /** False when `id` is not registered. */
  setState(id: string, state: BackendState): boolean {
    const backend = this.registry.get(id)
    if (!backend) return false
    if (backend.state === state) return true
    const wasReady = backend.state === 'ready'
    backend.state = state
    if (wasReady || state === 'ready') this.refreshReady()
    return true
  }

  /** The backend for a new connection, skipping `exclude` (backends that already refused this client). */
  pick(exclude: Backend[] | null): Backend | null {
    const {ready} = this
    const count = ready.length
    if (count === 0) return null
    if (this.mode === 'round-robin') {
      for (let offset = 0; offset < count; offset++) {
        const index = (this.cursor + offset) % count
        const backend = ready[index]
        if (exclude === null || !exclude.includes(backend)) {
          // A failover pick leaves the rotation alone, so a refusing backend does not skew the split.
          if (exclude === null) this.cursor = (index + 1) % count
          return backend
        }
      }

      return null
    }

    // least-conn: fewest active connections; ties go round-robin from the cursor.
    let best: Backend | null = null
    let bestIndex = 0
    for (let offset = 0; offset < count; offset++) {
      const index = (this.cursor + offset) % count
      const backend = ready[index]
      if ((exclude === null || !exclude.includes(backend)) && (best === null || backend.active < best.active)) {
        best = backend
        bestIndex = index
      }
    }

    if (best && exclude === null) this.cursor = (bestIndex + 1) % count
    return best
  }

  private refreshReady(): void {
    this.ready = [...this.registry.values()].filter((backend) => backend.state === 'ready')
    if (this.cursor >= this.ready.length) this.cursor = 0
  }
}
