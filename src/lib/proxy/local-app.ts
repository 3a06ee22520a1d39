import {EventEmitter} from 'node:events'

import {MAX_DURATION_MS} from '../duration.js'
import {CliError} from '../errors.js'
import {type BalanceMode, type DropMode, Gateway, type GatewayEvent, type MaxConnectionsMode} from '../gateway/gateway.js'
import {freePort} from '../gateway/ports.js'
import {waitForAccept} from '../gateway/readiness.js'
import {type ManagedProcess, Supervisor, type SupervisorEvent} from '../supervisor/supervisor.js'
import {type AppIdentity, containerEnv} from './container-env.js'
import {backoffDelay, crashRestartDelay, DEFAULT_BACKOFF_BASE_MS, DEFAULT_RESTART_ATTEMPTS} from './crash-policy.js'
import type {ProxyEvent} from './events.js'
import type {InstanceState, InstanceStatus, LocalStatus, RestartReport} from './status.js'

export interface ProcessType {
  type: string
  command: string
  count: number
}

export interface Upstream {
  host: string
  port: number
}

export interface LocalAppOptions {
  cwd: string
  app: string
  version?: string
  formation: ProcessType[]
  upstreams: Upstream[]
  parentEnv: Record<string, string | undefined>
  dotenv: Record<string, string>
  host: string
  port: number
  webPort: number
  balance: BalanceMode
  drop: DropMode
  graceMs: number
  bootTimeoutMs: number
  queueTimeoutMs: number
  maxCrashes: number
  /** Base of the exponential backoff for crash restarts and restart retries (default 1 s). */
  backoffBaseMs?: number
  /** Start attempts of a new generation during a rolling restart (default 20, as the platform). */
  restartAttempts?: number
  /** --chaos: restart one random tcp instance after a random delay in this range, again and again. */
  chaos?: {minMs: number; maxMs: number}
  /** 0 or unset: no limit. */
  maxConnections?: number
  maxConnectionsMode?: MaxConnectionsMode
  /** 0 or unset: connections may stay idle forever, as on the platform. */
  idleTimeoutMs?: number
  /** connection-opened/-closed events (default true); false spares every connection their cost. */
  connectionEvents?: boolean
}

export type {InstanceState} from './status.js'

/** One container of the app: a process of one type, index and generation. */
export interface Instance {
  name: string
  type: string
  index: number
  generation: number
  port?: number
  state: InstanceState
  process?: ManagedProcess
  startedAt: number
  crashes: number
  /** Crash restarts plus rolling restarts of this instance's slot (`tcp-1`), carried across generations. */
  restarts: number
  /** The gateway's id for a tcp instance: one per generation, so old and new can coexist. */
  backendId?: string
  /** A new generation booting during a rolling restart: its failures belong to the restart, not to the crash policy. */
  candidate?: boolean
  /** Replaced by a newer generation: it must never go live again. */
  retired?: boolean
  restartTimer?: NodeJS.Timeout
}

interface RestartRequest {
  reason: string
  /** Only these instances (a chaos restart); every tcp instance otherwise. */
  only?: string[]
  /** Files whose change triggered it (--watch). */
  files?: string[]
}

// Connections handed to the old generation just before the switch are still in its accept queue for a
// moment; closing its listener on SIGTERM right then would reset them.
const SWITCH_SETTLE_MS = 100

/**
 * The app running locally behind the emulated TCP Gateway: starts the formation through the
 * supervisor, probes tcp instances until they accept a connection, registers them with the gateway,
 * restarts crashed ones, performs rolling restarts, and shuts everything down. Emits ProxyEvents;
 * never prints.
 */
export class LocalApp extends EventEmitter {
  readonly gateway: Gateway
  readonly supervisor = new Supervisor()
  /** Every instance alive or starting, old and new generations side by side during a restart. */
  readonly instances: Instance[] = []
  private identity!: AppIdentity
  private generation = 1
  /** The generation of each tcp slot (`tcp-1`) that is serving, or supposed to be. */
  private readonly current = new Map<string, Instance>()
  private readonly byBackend = new Map<string, Instance>()
  private readonly byProcess = new Map<ManagedProcess, Instance>()
  private readonly aborter = new AbortController()
  private stopping = false
  private restartInFlight?: Promise<RestartReport>
  private queuedRestart?: {request: RestartRequest; report: Promise<RestartReport>}
  private chaosTimer?: NodeJS.Timeout

  constructor(private readonly options: LocalAppOptions) {
    super()
    this.gateway = new Gateway({
      host: options.host,
      port: options.port,
      balance: options.balance,
      queueTimeoutMs: options.queueTimeoutMs,
      connectTimeoutMs: 5000,
      blackholeTimeoutMs: 120_000,
      maxConnections: options.maxConnections,
      maxConnectionsMode: options.maxConnectionsMode,
      idleTimeoutMs: options.idleTimeoutMs,
      connectionEvents: options.connectionEvents,
    })
    this.gateway.on('event', (e: GatewayEvent) => this.onGatewayEvent(e))
    this.supervisor.on('event', (e: SupervisorEvent) => this.onSupervisorEvent(e))
  }

  get tcpUrl(): string {
    return this.identity?.tcpUrl
  }

  get restarting(): boolean {
    return this.restartInFlight !== undefined
  }

  private get backoffBaseMs(): number {
    return this.options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS
  }

  /** The environment a new container of this type gets (used by `env --local` too). */
  environmentFor(type: string, index: number, port?: number): Record<string, string> {
    return containerEnv(this.identity, {type, index, port}, this.options.parentEnv, this.options.dotenv)
  }

  /**
   * Listens, starts every process and resolves once each tcp instance is ready or has failed.
   * Fails when no tcp instance (nor upstream) became ready: the app could not serve anybody.
   */
  async start(): Promise<void> {
    const {host, port} = await this.gateway.listen()
    const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
    this.identity = {app: this.options.app, version: this.options.version, tcpUrl: `tcp://${publicHost}:${port}`}
    this.emitEvent({event: 'gateway-listening', host, port, tcpUrl: this.identity.tcpUrl})

    const upstreamsReady = this.options.upstreams.map((upstream, i) => this.addUpstream(upstream, i + 1))
    const boots: Promise<boolean>[] = []
    for (const processType of this.options.formation) {
      for (let index = 1; index <= processType.count; index++) {
        boots.push(this.startInstance(processType, index))
      }
    }

    await Promise.all(boots)
    const tcpCount = this.tcpType()?.count ?? 0
    const tcpReady = this.instances.some((i) => i.type === 'tcp' && i.state === 'ready')
    if (tcpCount > 0 && !tcpReady && this.options.upstreams.length === 0 && !this.stopping) {
      throw new CliError('No tcp instance became ready: the gateway has nothing to send connections to.', {
        suggestions: [
          'Make the tcp process listen on the port in $PORT (on 0.0.0.0, not the TCP_URL port).',
          'Raise --boot-timeout if it needs longer than that to start.',
        ],
      })
    }

    if (tcpCount === 0) await Promise.race(upstreamsReady)
    this.scheduleChaos()
  }

  /**
   * Rolling restart of every tcp instance, resolved once it is complete (new generation serving, old
   * one gone). Requests made while one runs coalesce: they all join the single restart queued after
   * it, since the one running may have started its instances before whatever prompted the request.
   */
  restart(reason: string): Promise<RestartReport> {
    return this.requestRestart({reason})
  }

  /** --watch: a rolling restart because these files changed. */
  restartForChanges(files: string[]): Promise<RestartReport> {
    return this.requestRestart({reason: 'watch', files})
  }

  status(): LocalStatus {
    const backends = new Map(this.gateway.backends().map((b) => [b.id, b]))
    const now = Date.now()
    const instances: InstanceStatus[] = this.instances.map((instance) => {
      const backend = instance.backendId ? backends.get(instance.backendId) : undefined
      const running = instance.process?.running === true
      return {
        name: instance.name,
        type: instance.type,
        generation: instance.generation,
        state: instance.state,
        pid: running ? instance.process!.pid : undefined,
        port: instance.port,
        uptimeMs: running ? now - instance.startedAt : 0,
        active: backend?.active ?? 0,
        total: backend?.total ?? 0,
        bytesIn: backend?.bytesIn ?? 0,
        bytesOut: backend?.bytesOut ?? 0,
        restarts: instance.restarts,
      }
    })
    for (const backend of backends.values()) {
      if (!backend.id.startsWith('upstream-')) continue
      instances.push({
        name: backend.id, type: 'upstream', generation: 0, state: backend.state === 'ready' ? 'ready' : 'booting',
        port: backend.port, uptimeMs: 0, active: backend.active, total: backend.total,
        bytesIn: backend.bytesIn, bytesOut: backend.bytesOut, restarts: 0,
      })
    }

    return {app: this.options.app, tcpUrl: this.tcpUrl, restarting: this.restarting, instances, connections: this.gateway.connections}
  }

  /** Graceful stop: stop accepting, SIGTERM every process group, SIGKILL after the grace period. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    this.emitEvent({event: 'shutdown', reason})
    this.aborter.abort()
    clearTimeout(this.chaosTimer)
    for (const instance of this.instances) clearTimeout(instance.restartTimer)
    await this.gateway.close()
    await this.supervisor.stopAll(this.options.graceMs)
    this.gateway.destroy()
    this.emitEvent({event: 'stopped'})
  }

  /** Second Ctrl-C: no more waiting. */
  forceStop(): void {
    this.stopping = true
    this.aborter.abort()
    clearTimeout(this.chaosTimer)
    for (const instance of this.instances) clearTimeout(instance.restartTimer)
    this.supervisor.killAll()
    this.gateway.destroy()
  }

  private tcpType(): ProcessType | undefined {
    return this.options.formation.find((p) => p.type === 'tcp')
  }

  private requestRestart(request: RestartRequest): Promise<RestartReport> {
    if (!this.restartInFlight) return this.launchRestart(request)
    if (this.queuedRestart) {
      const queued = this.queuedRestart.request
      if (request.files) queued.files = [...new Set([...(queued.files ?? []), ...request.files])]
      return this.queuedRestart.report
    }

    const queued = {request, report: undefined as unknown as Promise<RestartReport>}
    queued.report = this.restartInFlight.then(() => {
      this.queuedRestart = undefined
      return this.launchRestart(queued.request)
    })
    this.queuedRestart = queued
    return queued.report
  }

  private launchRestart(request: RestartRequest): Promise<RestartReport> {
    const run: Promise<RestartReport> = this.rollingRestart(request).finally(() => {
      if (this.restartInFlight === run) this.restartInFlight = undefined
    })
    this.restartInFlight = run
    return run
  }

  private async rollingRestart(request: RestartRequest): Promise<RestartReport> {
    const startedAt = Date.now()
    const generation = ++this.generation
    const names = [...this.current.keys()].filter((name) => !request.only || request.only.includes(name))
    this.emitEvent({event: 'restart-started', generation, reason: request.reason, instances: names, ...(request.files ? {files: request.files} : {})})
    const results = await Promise.all(names.map((name) => this.replaceInstance(name, generation)))
    const report: RestartReport = {
      generation,
      durationMs: Date.now() - startedAt,
      restarted: names.filter((_, i) => results[i]),
      failed: names.filter((_, i) => !results[i]),
    }
    this.emitEvent({event: 'restart-completed', reason: request.reason, ...report})
    return report
  }

  /**
   * One tcp slot of a rolling restart: boot the new generation next to the old one (retrying with
   * backoff while the old one keeps serving), switch new connections to it, then retire the old one.
   */
  private async replaceInstance(name: string, generation: number): Promise<boolean> {
    const old = this.current.get(name)!
    const processType = this.tcpType()!
    const attempts = this.options.restartAttempts ?? DEFAULT_RESTART_ATTEMPTS
    for (let attempt = 1; attempt <= attempts && !this.stopping; attempt++) {
      const fresh: Instance = {
        name, type: 'tcp', index: old.index, generation, state: 'booting', startedAt: Date.now(), crashes: 0,
        restarts: old.restarts + 1, candidate: true,
      }
      this.instances.push(fresh)
      const readyAt = await this.bootCandidate(fresh, processType)
      if (readyAt !== undefined) {
        this.switchTo(fresh, old, readyAt)
        await this.retire(old)
        return true
      }

      this.forget(fresh)
      if (attempt === attempts || this.stopping) break
      const inMs = backoffDelay(attempt, this.backoffBaseMs)
      this.emitEvent({event: 'restart-retrying', instance: name, generation, attempt, attempts, inMs, reason: 'the new instance did not become ready; the old one keeps serving'})
      await this.sleep(inMs)
    }

    return false
  }

  /** Resolves with the time the candidate accepted its first connection, or undefined when it did not. */
  private async bootCandidate(fresh: Instance, processType: ProcessType): Promise<number | undefined> {
    if (!(await this.launch(fresh, processType))) return undefined
    if (!(await this.awaitAccept(fresh))) return undefined
    return Date.now()
  }

  /** setReady(new) before drain(old), in the same tick: no client is ever without a ready instance. */
  private switchTo(fresh: Instance, old: Instance, readyAt: number): void {
    fresh.candidate = false
    old.retired = true
    clearTimeout(old.restartTimer)
    this.current.set(fresh.name, fresh)
    this.goLive(fresh)
    if (old.backendId) this.gateway.drain(old.backendId)
    if (old.state === 'ready' || old.state === 'booting') old.state = 'draining'
    this.emitEvent({event: 'restart-switched', instance: fresh.name, from: old.generation, to: fresh.generation, port: fresh.port!, switchMs: Date.now() - readyAt})
  }

  /**
   * SIGTERM the old generation; its connections keep flowing while it closes them itself. After the
   * grace period, what it left open is dropped per --drop BEFORE the SIGKILL (once it is dead the kernel
   * closes its sockets, and the gateway could no longer tell that from the server closing them).
   */
  private async retire(old: Instance): Promise<void> {
    const child = old.process
    // byProcess holds a process until its whole group is gone (its 'exited'), not just its shell.
    if (child && this.byProcess.has(child)) {
      await new Promise((resolve) => {
        setTimeout(resolve, SWITCH_SETTLE_MS)
      })
      const {graceMs} = this.options
      this.emitEvent({event: 'instance-stopping', instance: old.name, generation: old.generation, pid: child.pid, graceMs})
      // The supervisor's own SIGKILL timer is pushed out of the way: ours drops connections first.
      void child.stop(Math.min(MAX_DURATION_MS, graceMs + 3_600_000))
      let graceTimer: NodeJS.Timeout | undefined
      const graceOver = new Promise<boolean>((resolve) => {
        graceTimer = setTimeout(resolve, graceMs, true)
      })
      // Not child.running: the shell leading the group may be gone while the server it started lives on.
      let exited = false
      const timedOut = await Promise.race([child.exited.then(() => !(exited = true)), graceOver])
      clearTimeout(graceTimer)
      if (timedOut && !exited) {
        this.dropConnections(old)
        child.kill()
        await child.exited
      }
    }

    this.forget(old)
  }

  private dropConnections(instance: Instance): void {
    if (!instance.backendId) return
    const {drop} = this.options
    const count = this.gateway.dropConnections(instance.backendId, drop)
    if (count > 0) this.emitEvent({event: 'connections-dropped', instance: instance.name, generation: instance.generation, count, mode: drop})
  }

  /** An instance that will never serve again: out of the gateway and out of the status. */
  private forget(instance: Instance): void {
    clearTimeout(instance.restartTimer)
    if (instance.backendId) this.gateway.removeBackend(instance.backendId)
    const at = this.instances.indexOf(instance)
    if (at !== -1) this.instances.splice(at, 1)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.aborter.signal.removeEventListener('abort', done)
        resolve()
      }

      const timer = setTimeout(done, ms)
      this.aborter.signal.addEventListener('abort', done, {once: true})
    })
  }

  private scheduleChaos(): void {
    const {chaos} = this.options
    if (!chaos || this.stopping) return
    const delay = chaos.minMs + Math.random() * (chaos.maxMs - chaos.minMs)
    this.chaosTimer = setTimeout(() => {
      this.scheduleChaos()
      // As the scheduler: one instance that is serving, never on top of a restart in progress.
      const candidates = [...this.current.values()].filter((i) => i.state === 'ready')
      if (this.restartInFlight || candidates.length === 0) return
      const victim = candidates[Math.floor(Math.random() * candidates.length)]
      this.emitEvent({event: 'chaos-restart', instance: victim.name, generation: victim.generation})
      void this.requestRestart({reason: 'chaos', only: [victim.name]})
    }, delay)
  }

  private async addUpstream(upstream: Upstream, index: number): Promise<void> {
    const id = `upstream-${index}`
    this.gateway.addBackend({id, host: upstream.host, port: upstream.port, generation: 0})
    // An upstream is somebody else's server (maybe in a debugger): keep probing until it answers.
    while (!this.stopping) {
      try {
        await waitForAccept(upstream.host, upstream.port, {timeoutMs: this.options.bootTimeoutMs, signal: this.aborter.signal})
        this.gateway.setReady(id)
        this.emitEvent({event: 'upstream-ready', instance: id, host: upstream.host, port: upstream.port})
        return
      } catch {
        if (this.stopping) return
      }
    }
  }

  /** First start of an instance, or its restart after a crash (same record, same generation). */
  private async startInstance(processType: ProcessType, index: number, previous?: Instance): Promise<boolean> {
    let instance = previous
    if (!instance) {
      const name = `${processType.type}-${index}`
      instance = {name, type: processType.type, index, generation: this.generation, state: 'booting', startedAt: Date.now(), crashes: 0, restarts: 0}
      this.instances.push(instance)
      if (processType.type === 'tcp') this.current.set(name, instance)
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
  private async launch(instance: Instance, processType: ProcessType): Promise<boolean> {
    const isTcp = processType.type === 'tcp'
    const port = isTcp ? await freePort() : processType.type === 'web' ? this.options.webPort + instance.index - 1 : undefined
    Object.assign(instance, {port, state: 'booting', startedAt: Date.now()})
    if (this.stopping || instance.retired) return false

    const child = this.supervisor.start({
      id: instance.name,
      type: processType.type,
      command: processType.command,
      cwd: this.options.cwd,
      env: this.environmentFor(processType.type, instance.index, port),
    })
    instance.process = child
    this.byProcess.set(child, instance)
    this.emitEvent({event: 'instance-starting', instance: instance.name, type: processType.type, generation: instance.generation, pid: child.pid, port})
    if (isTcp && port !== undefined) {
      instance.backendId = `${instance.name}#${instance.generation}`
      this.byBackend.set(instance.backendId, instance)
      this.gateway.addBackend({id: instance.backendId, host: '127.0.0.1', port, generation: instance.generation})
    }

    return true
  }

  /** The platform's readiness: one TCP connection accepted on PORT within the boot timeout. */
  private async awaitAccept(instance: Instance): Promise<boolean> {
    const child = instance.process!
    const port = instance.port!
    const cancelled = new AbortController()
    const onAbort = () => cancelled.abort()
    this.aborter.signal.addEventListener('abort', onAbort)
    void child.exited.then(onAbort)
    try {
      await waitForAccept('127.0.0.1', port, {timeoutMs: this.options.bootTimeoutMs, signal: cancelled.signal})
    } catch {
      if (this.stopping) return false
      if (child.running) {
        const reason = `did not accept a TCP connection on PORT ${port} within ${formatMs(this.options.bootTimeoutMs)}`
        instance.state = 'failed'
        this.emitEvent({event: 'instance-boot-failed', instance: instance.name, generation: instance.generation, reason, lastLines: child.recentOutput(10)})
        await child.stop(this.options.graceMs)
      } else if (instance.candidate) {
        instance.state = 'failed'
        this.emitEvent({event: 'instance-boot-failed', instance: instance.name, generation: instance.generation, reason: 'exited before accepting a TCP connection', lastLines: child.recentOutput(10)})
      }

      return false
    } finally {
      this.aborter.signal.removeEventListener('abort', onAbort)
    }

    return child.running && !this.stopping && !instance.retired
  }

  private goLive(instance: Instance): void {
    instance.state = 'ready'
    this.emitEvent({event: 'instance-ready', instance: instance.name, generation: instance.generation, port: instance.port!, bootMs: Date.now() - instance.startedAt})
    this.gateway.setReady(instance.backendId!)
  }

  private onSupervisorEvent(e: SupervisorEvent): void {
    if (e.type === 'output') {
      this.emitEvent({event: 'output', instance: e.id, stream: e.stream, line: e.line})
      return
    }

    if (e.type !== 'exited') return
    const instance = [...this.byProcess.entries()].find(([child]) => child.pid === e.pid)?.[1]
    if (!instance) return
    this.emitEvent({event: 'instance-exited', instance: instance.name, generation: instance.generation, pid: e.pid, code: e.code, signal: e.signal, expected: e.expected})
    for (const [child, owner] of this.byProcess) if (owner === instance && child.pid === e.pid) this.byProcess.delete(child)
    if (e.expected || this.stopping) {
      if (instance.state !== 'failed') instance.state = 'stopped'
      return
    }

    // A new generation that dies while booting is the rolling restart's to retry.
    if (instance.candidate) return
    this.onCrash(instance)
  }

  /** As on the platform: out of the balancing at once, connections dropped, restarted with backoff. */
  private onCrash(instance: Instance): void {
    const wasBooting = instance.state === 'booting'
    instance.state = 'crashed'
    if (instance.backendId) {
      this.gateway.markDown(instance.backendId)
      this.dropConnections(instance)
      this.gateway.removeBackend(instance.backendId)
    }

    // Replaced by a newer generation already: nothing to bring back.
    if (instance.retired) return
    instance.crashes++
    if (instance.crashes > this.options.maxCrashes) {
      instance.state = 'failed'
      this.emitEvent({event: 'instance-gave-up', instance: instance.name, crashes: instance.crashes - 1})
      this.checkAllGaveUp()
      return
    }

    const delay = crashRestartDelay(instance.crashes, wasBooting, this.backoffBaseMs)
    this.emitEvent({event: 'instance-restarting', instance: instance.name, generation: instance.generation, inMs: delay, crashes: instance.crashes})
    const processType = this.options.formation.find((p) => p.type === instance.type)!
    instance.restartTimer = setTimeout(() => {
      instance.restartTimer = undefined
      if (instance.retired || this.stopping) return
      instance.restarts++
      void this.startInstance(processType, instance.index, instance)
    }, delay)
  }

  private checkAllGaveUp(): void {
    const tcp = [...this.current.values()]
    if (tcp.length > 0 && tcp.every((i) => i.state === 'failed') && this.options.upstreams.length === 0) {
      this.emit('fatal', new CliError('Every tcp instance crashed too often and was given up.', {
        suggestions: [
          'Read the instances\' last output lines above to find why they exit.',
          'Raise --max-crashes to keep restarting them longer.',
        ],
      }))
    }
  }

  private onGatewayEvent(e: GatewayEvent): void {
    switch (e.type) {
      case 'connection-opened':
      case 'connection-closed':
      case 'backend-connect-failed': {
        const instance = this.byBackend.get(e.backend)
        const name = instance?.name ?? e.backend
        const generation = instance?.generation ?? 0
        if (e.type === 'connection-opened') {
          this.emitEvent({event: 'connection-opened', id: e.id, instance: name, generation, client: e.client})
        } else if (e.type === 'connection-closed') {
          const {id, bytesIn, bytesOut, durationMs, reason} = e
          this.emitEvent({event: 'connection-closed', id, instance: name, generation, bytesIn, bytesOut, durationMs, reason})
        } else {
          this.emitEvent({event: 'backend-connect-failed', instance: name, generation, error: e.error})
        }

        break
      }

      case 'client-queued':
        this.emitEvent({event: 'client-queued', waiting: e.waiting})
        break
      case 'client-rejected':
        this.emitEvent({event: 'client-rejected', reason: e.reason})
        break
      case 'accept-error':
        this.emitEvent({event: 'accept-error', error: e.error})
        break
      default:
        break
    }
  }

  private emitEvent(event: ProxyEvent): void {
    this.emit('event', event)
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`
}
