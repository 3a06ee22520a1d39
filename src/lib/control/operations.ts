import {randomUUID} from 'node:crypto'

import type {LocalOperation, RestartReport} from '../contract.js'

const FINISHED_KEPT = 100

/**
 * Rolling restarts requested through the control interface, run one at a time. A request made
 * while another restart is running waits as `pending`; requests made while one is already pending
 * share it, since that restart will start after them anyway.
 */
export class RestartOperations {
  private readonly operations = new Map<string, LocalOperation>()
  private running?: LocalOperation
  private pending?: LocalOperation

  constructor(private readonly runRestart: () => Promise<RestartReport>) {}

  request(): LocalOperation {
    if (this.pending) return this.pending
    const operation: LocalOperation = {
      id: randomUUID(),
      type: 'restart',
      status: 'pending',
      created_at: new Date().toISOString(),
      finished_at: null,
    }
    this.operations.set(operation.id, operation)
    this.pending = operation
    if (!this.running) setImmediate(() => this.startPending())
    this.forgetOldest()
    return operation
  }

  get(id: string): LocalOperation | undefined {
    return this.operations.get(id)
  }

  private startPending(): void {
    const operation = this.pending
    if (!operation || this.running) return
    this.pending = undefined
    this.running = operation
    operation.status = 'running'
    let outcome: Promise<RestartReport>
    try {
      outcome = this.runRestart()
    } catch (error) {
      outcome = Promise.reject(error)
    }

    outcome.then(
      (report) => {
        operation.report = report
        if (report.failed.length > 0) {
          this.finish(
            operation,
            'error',
            `${report.failed.join(', ')} did not become ready: the previous generation keeps serving`,
          )
        } else {
          this.finish(operation, 'done')
        }
      },
      (error: unknown) => this.finish(operation, 'error', error instanceof Error ? error.message : String(error)),
    )
  }

  private finish(operation: LocalOperation, status: 'done' | 'error', error?: string): void {
    operation.status = status
    operation.finished_at = new Date().toISOString()
    if (error !== undefined) operation.error = error
    this.running = undefined
    if (this.pending) this.startPending()
  }

  private forgetOldest(): void {
    const finished = [...this.operations.values()].filter((o) => o.finished_at !== null)
    for (const operation of finished.slice(0, Math.max(0, finished.length - FINISHED_KEPT)))
      this.operations.delete(operation.id)
  }
}
