import {EventEmitter} from 'node:events'

import {CliError} from '../errors.js'
import {type BalanceMode, type DropMode, Gateway, type GatewayEvent} from '../gateway/gateway.js'
import {freePort} from '../gateway/ports.js'
import {waitForAccept} from '../gateway/readiness.js'
import {type ManagedProcess, Supervisor, type SupervisorEvent} from '../supervisor/supervisor.js'
import {type AppIdentity, containerEnv} from './container-env.js'
import type {ProxyEvent} from './events.js'

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
}

export type InstanceState = 'booting' | 'ready' | 'draining' | 'crashed' | 'stopped' | 'failed'

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
  /** The gateway's id for a tcp instance: one per generation, so old and new can coexist. */
  backendId?: string
}

const RESTART_BACKOFF_BASE_MS = 1000
const RESTART_BACKOFF_MAX_MS = 60_000

/**
 * The app running locally behind the emulated TCP Gateway: starts the formation through the
 * supervisor, probes tcp instances until they accept a connection, registers them with the gateway,
 * restarts crashed ones, and shuts everything down. Emits ProxyEvents; never prints.
 */
export class LocalApp extends EventEmitter {
  readonly gateway: Gateway
  readonly supervisor = new Supervisor()
  readonly instances: Instance[] = []
  private identity!: AppIdentity
  private readonly byBackend = new Map<string, Instance>()
  private readonly byProcess = new Map<ManagedProcess, Instance>()
  private readonly restartTimers = new Set<NodeJS.Timeout>()
  private readonly aborter = new AbortController()
  private stopping = false

  constructor(private readonly options: LocalAppOptions) {
    super()
    this.gateway = new Gateway({
      host: options.host,
      port: options.port,
      balance: options.balance,
      queueTimeoutMs: options.queueTimeoutMs,
      connectTimeoutMs: 5000,
      blackholeTimeoutMs: 120_000,
    })
    this.gateway.on('event', (e: GatewayEvent) => this.onGatewayEvent(e))
    this.supervisor.on('event', (e: SupervisorEvent) => this.onSupervisorEvent(e))
  }

  get tcpUrl(): string {
    return this.identity?.tcpUrl
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
        boots.push(this.startInstance(processType, index, 1))
      }
    }

    const results = await Promise.all(boots)
    const tcpCount = this.options.formation.find((p) => p.type === 'tcp')?.count ?? 0
    const tcpReady = this.instances.some((i) => i.type === 'tcp' && i.state === 'ready')
    if (tcpCount > 0 && !tcpReady && this.options.upstreams.length === 0 && !this.stopping) {
      throw new CliError('No tcp instance became ready: the gateway has nothing to send connections to.', {
        suggestions: [
          'Make the tcp process listen on the port in $PORT (on 0.0.0.0, not the TCP_URL port).',
          'Raise --boot-timeout if it needs longer than that to start.',
        ],
      })
    }

    void results
    if (tcpCount === 0) await Promise.race(upstreamsReady)
  }

  /** Graceful stop: stop accepting, SIGTERM every process group, SIGKILL after the grace period. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    this.emitEvent({event: 'shutdown', reason})
    this.aborter.abort()
    for (const timer of this.restartTimers) clearTimeout(timer)
    await this.gateway.close()
    await this.supervisor.stopAll(this.options.graceMs)
    this.gateway.destroy()
    this.emitEvent({event: 'stopped'})
  }

  /** Second Ctrl-C: no more waiting. */
  forceStop(): void {
    this.stopping = true
    this.aborter.abort()
    this.supervisor.killAll()
    this.gateway.destroy()
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

  private async startInstance(processType: ProcessType, index: number, generation: number, previous?: Instance): Promise<boolean> {
    const isTcp = processType.type === 'tcp'
    const port = isTcp ? await freePort() : processType.type === 'web' ? this.options.webPort + index - 1 : undefined
    const name = `${processType.type}-${index}`
    const instance: Instance = previous ?? {name, type: processType.type, index, generation, state: 'booting', startedAt: 0, crashes: 0}
    Object.assign(instance, {generation, port, state: 'booting', startedAt: Date.now()})
    if (!previous) this.instances.push(instance)
    if (this.stopping) return false

    const child = this.supervisor.start({
      id: name,
      type: processType.type,
      command: processType.command,
      cwd: this.options.cwd,
      env: this.environmentFor(processType.type, index, port),
    })
    instance.process = child
    this.byProcess.set(child, instance)
    this.emitEvent({event: 'instance-starting', instance: name, type: processType.type, generation, pid: child.pid, port})
    if (!isTcp || port === undefined) {
      instance.state = 'ready'
      return true
    }

    instance.backendId = `${name}#${generation}`
    this.byBackend.set(instance.backendId, instance)
    this.gateway.addBackend({id: instance.backendId, host: '127.0.0.1', port, generation})
    return this.awaitReady(instance, port)
  }

  private async awaitReady(instance: Instance, port: number): Promise<boolean> {
    const child = instance.process!
    const exitedEarly = new AbortController()
    const onAbort = () => exitedEarly.abort()
    this.aborter.signal.addEventListener('abort', onAbort)
    void child.exited.then(onAbort)
    try {
      await waitForAccept('127.0.0.1', port, {timeoutMs: this.options.bootTimeoutMs, signal: exitedEarly.signal})
    } catch (error) {
      if (this.stopping) return false
      const reason = child.running
        ? `did not accept a TCP connection on PORT ${port} within ${Math.round(this.options.bootTimeoutMs / 1000)} s`
        : 'exited before accepting a TCP connection'
      if (child.running) {
        instance.state = 'failed'
        this.emitEvent({event: 'instance-boot-failed', instance: instance.name, generation: instance.generation, reason, lastLines: child.recentOutput(10)})
        await child.stop(this.options.graceMs)
      }

      void error
      return false
    } finally {
      this.aborter.signal.removeEventListener('abort', onAbort)
    }

    if (!child.running || this.stopping) return false
    instance.state = 'ready'
    this.gateway.setReady(instance.backendId!)
    this.emitEvent({event: 'instance-ready', instance: instance.name, generation: instance.generation, port, bootMs: Date.now() - instance.startedAt})
    return true
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

    this.onCrash(instance)
  }

  /** As on the platform: out of the balancing at once, connections dropped, restarted with backoff. */
  private onCrash(instance: Instance): void {
    const wasBooting = instance.state === 'booting'
    instance.state = 'crashed'
    if (instance.backendId) {
      this.gateway.markDown(instance.backendId)
      const count = this.gateway.dropConnections(instance.backendId, this.options.drop)
      if (count > 0) {
        this.emitEvent({event: 'connections-dropped', instance: instance.name, generation: instance.generation, count, mode: this.options.drop})
      }

      this.gateway.removeBackend(instance.backendId)
    }

    instance.crashes++
    if (instance.crashes > this.options.maxCrashes) {
      instance.state = 'failed'
      this.emitEvent({event: 'instance-gave-up', instance: instance.name, crashes: instance.crashes - 1})
      this.checkAllGaveUp()
      return
    }

    const delay =
      instance.crashes === 1 && !wasBooting
        ? 0
        : Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_BASE_MS * 2 ** (instance.crashes - 2 + (wasBooting ? 1 : 0)))
    this.emitEvent({event: 'instance-restarting', instance: instance.name, generation: instance.generation, inMs: delay, crashes: instance.crashes})
    const processType = this.options.formation.find((p) => p.type === instance.type)!
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer)
      void this.startInstance(processType, instance.index, instance.generation, instance)
    }, delay)
    this.restartTimers.add(timer)
  }

  private checkAllGaveUp(): void {
    const tcp = this.instances.filter((i) => i.type === 'tcp')
    if (tcp.length > 0 && tcp.every((i) => i.state === 'failed') && this.options.upstreams.length === 0) {
      this.emit('fatal', new CliError('Every tcp instance crashed too often and was given up.', {
        suggestions: ['Read the instances\' last output lines above to find why they exit.'],
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
