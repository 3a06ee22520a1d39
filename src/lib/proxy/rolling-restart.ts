import {setTimeout as delay} from 'node:timers/promises'

import type {RestartReport} from '../contract.js'
import {MAX_DURATION_MS} from '../duration.js'
import {backoffDelay, DEFAULT_BACKOFF_BASE_MS, DEFAULT_RESTART_ATTEMPTS} from './crash-policy.js'
import type {InstancePool} from './instance.js'
import type {AppRuntime, Instance} from './model.js'

export interface RestartRequest {
  reason: string
  /** Only these instances (a chaos restart); every tcp instance otherwise. */
  only?: string[]
  /** Files whose change triggered it (--watch). */
  files?: string[]
}

// Connections handed to the old generation just before the switch: retire() waits until none is still
// connecting (an event), then this long for their first bytes to reach the server, before SIGTERM; closing
// its listener right then would reset them, and a server that ends its connections on SIGTERM would end
// them before it read what the client sent.
const SWITCH_SETTLE_MS = 100
// The supervisor's own SIGKILL timer is pushed past ours: we drop connections before killing.
const SUPERVISOR_KILL_DEFERRED_MS = 3_600_000

/**
 * Rolling restarts of the tcp instances, as on the platform: a new generation boots next to the old
 * one, new connections switch to it once it accepts, then the old one gets SIGTERM and, after the
 * grace period, --drop and SIGKILL. One runs at a time; requests made while one runs coalesce into
 * the single restart queued after it, since the one running may have started its instances before
 * whatever prompted the request.
 */
export class RollingRestarts {
  private inFlight?: Promise<RestartReport>
  private queued?: {request: RestartRequest; report: Promise<RestartReport>}

  constructor(
    private readonly runtime: AppRuntime,
    private readonly pool: InstancePool,
  ) {}

  get running(): boolean {
    return this.inFlight !== undefined
  }

  request(request: RestartRequest): Promise<RestartReport> {
    if (!this.inFlight) return this.launch(request)
    if (this.queued) {
      const queued = this.queued.request
      if (request.files) queued.files = [...new Set([...(queued.files ?? []), ...request.files])]
      return this.queued.report
    }

    const queued = {request, report: undefined as unknown as Promise<RestartReport>}
    queued.report = this.inFlight.then(() => {
      this.queued = undefined
      return this.launch(queued.request)
    })
    this.queued = queued
    return queued.report
  }

  private launch(request: RestartRequest): Promise<RestartReport> {
    const run: Promise<RestartReport> = this.run(request).finally(() => {
      if (this.inFlight === run) this.inFlight = undefined
    })
    this.inFlight = run
    return run
  }

  private async run(request: RestartRequest): Promise<RestartReport> {
    const startedAt = Date.now()
    const generation = ++this.pool.generation
    const names = [...this.pool.serving.keys()].filter((name) => !request.only || request.only.includes(name))
    this.runtime.emitEvent({
      event: 'restart-started',
      generation,
      reason: request.reason,
      instances: names,
      ...(request.files ? {files: request.files} : {}),
    })
    const results = await Promise.all(names.map((name) => this.replace(name, generation)))
    const report: RestartReport = {
      generation,
      durationMs: Date.now() - startedAt,
      restarted: names.filter((_, i) => results[i]),
      failed: names.filter((_, i) => !results[i]),
    }
    this.runtime.emitEvent({event: 'restart-completed', reason: request.reason, ...report})
    return report
  }

  /**
   * One tcp slot: boot the new generation next to the old one (retrying with backoff while the old one
   * keeps serving), switch new connections to it, then retire the old one.
   */
  private async replace(name: string, generation: number): Promise<boolean> {
    const {options, signal: stopped} = this.runtime
    const old = this.pool.serving.get(name)!
    const processType = this.pool.processType('tcp')!
    const attempts = options.restartAttempts ?? DEFAULT_RESTART_ATTEMPTS
    for (let attempt = 1; attempt <= attempts && !stopped.aborted; attempt++) {
      const fresh: Instance = {
        name,
        type: 'tcp',
        index: old.index,
        generation,
        state: 'booting',
        startedAt: Date.now(),
        crashes: 0,
        restarts: old.restarts + 1,
        candidate: true,
      }
      this.pool.all.push(fresh)
      if ((await this.pool.launch(fresh, processType)) && (await this.pool.awaitAccept(fresh))) {
        this.switchTo(fresh, old, Date.now())
        await this.retire(old)
        return true
      }

      this.pool.forget(fresh)
      if (attempt === attempts || stopped.aborted) break
      const inMs = backoffDelay(attempt, options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS)
      this.runtime.emitEvent({
        event: 'restart-retrying',
        instance: name,
        generation,
        attempt,
        attempts,
        inMs,
        reason: 'the new instance did not become ready; the old one keeps serving',
      })
      await delay(inMs, undefined, {signal: stopped}).catch(() => {})
    }

    return false
  }

  /** setReady(new) before drain(old), in the same tick: no client is ever without a ready instance. */
  private switchTo(fresh: Instance, old: Instance, readyAt: number): void {
    fresh.candidate = false
    old.retired = true
    clearTimeout(old.restartTimer)
    this.pool.serving.set(fresh.name, fresh)
    this.pool.goLive(fresh)
    if (old.backendId) this.runtime.gateway.drain(old.backendId)
    if (old.state === 'ready' || old.state === 'booting') old.state = 'draining'
    this.runtime.emitEvent({
      event: 'restart-switched',
      instance: fresh.name,
      from: old.generation,
      to: fresh.generation,
      port: fresh.port!,
      switchMs: Date.now() - readyAt,
    })
  }

  /**
   * SIGTERM the old generation; its connections keep flowing while it closes them itself. After the
   * grace period, what it left open is dropped per --drop BEFORE the SIGKILL (once it is dead the kernel
   * closes its sockets, and the gateway could no longer tell that from the server closing them).
   */
  private async retire(old: Instance): Promise<void> {
    const child = old.process
    if (child && this.pool.holds(child)) {
      if (old.backendId) await this.runtime.gateway.connectsSettled(old.backendId)
      await delay(SWITCH_SETTLE_MS)
      const {graceMs} = this.runtime.options
      this.runtime.emitEvent({
        event: 'instance-stopping',
        instance: old.name,
        generation: old.generation,
        pid: child.pid,
        graceMs,
      })
      void child.stop(Math.min(MAX_DURATION_MS, graceMs + SUPERVISOR_KILL_DEFERRED_MS))
      const graceOver = new AbortController()
      // Not child.running: the shell leading the group may be gone while the server it started lives on.
      let exited = false
      await Promise.race([
        child.exited.then(() => (exited = true)),
        delay(graceMs, undefined, {signal: graceOver.signal}).catch(() => {}),
      ])
      graceOver.abort()
      if (!exited) {
        this.pool.dropConnections(old)
        child.kill()
        await child.exited
      }
    }

    this.pool.forget(old)
  }
}
