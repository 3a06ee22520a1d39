import type {ControlTarget} from '../../../src/lib/control/server.js'
import type {LocalStatus, RestartReport} from '../../../src/lib/contract.js'

/** A ControlTarget whose restarts end when the test says so. */
export class FakeTarget implements ControlTarget {
  readonly restarts: Array<{reason: string; resolve: (r: RestartReport) => void; reject: (e: Error) => void}> = []
  private restartWaiters: Array<() => void> = []

  status(): LocalStatus {
    return {
      app: 'my-app',
      tcpUrl: 'tcp://127.0.0.1:20003',
      restarting: this.restarts.length > 0,
      instances: [
        {
          name: 'tcp-1',
          type: 'tcp',
          generation: 1,
          state: 'ready',
          pid: 42,
          port: 40_000,
          uptimeMs: 1000,
          active: 1,
          total: 3,
          bytesIn: 10,
          bytesOut: 20,
          restarts: 0,
        },
      ],
      connections: {active: 1, total: 3},
    }
  }

  restart(reason: string): Promise<RestartReport> {
    return new Promise((resolve, reject) => {
      this.restarts.push({reason, resolve, reject})
      for (const waiter of this.restartWaiters.splice(0)) waiter()
    })
  }

  environmentFor(type: string, index: number, port?: number): Record<string, string> {
    const env: Record<string, string> = {
      TCP_URL: 'tcp://127.0.0.1:20003',
      CONTAINER: `${type}-${index}`,
      SCALINGO_API_TOKEN: 'tk-us-secret',
      GREETING: 'hello world',
    }
    if (port !== undefined) env.PORT = String(port)
    return env
  }

  /** Resolves once `count` restarts have been started. */
  async restartStarted(count: number): Promise<void> {
    while (this.restarts.length < count) await new Promise<void>((resolve) => this.restartWaiters.push(resolve))
  }
}

export const report = (failed: string[] = []): RestartReport => ({
  generation: 2,
  durationMs: 5,
  restarted: ['tcp-1'],
  failed,
})
