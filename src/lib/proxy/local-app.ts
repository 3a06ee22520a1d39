import {EventEmitter} from 'node:events'

import type {LocalStatus, ProxyEvent, RestartReport} from '../contract.js'
import {CliError} from '../errors.js'
import {Gateway, type GatewayEvent} from '../gateway/gateway.js'
import {parseHostPortUrl, tcpUrl} from '../host-port.js'
import {Supervisor, type SupervisorEvent} from '../supervisor/supervisor.js'
import {bootFailureHints} from './boot-hints.js'
import {ChaosScheduler} from './chaos.js'
import {type AppIdentity, containerEnv} from './container-env.js'
import {CrashRecovery} from './crash-recovery.js'
import {proxyEventOf} from './gateway-events.js'
import {InstancePool} from './instance.js'
import type {AppRuntime, ClaimDirectory, DirectoryClaim, LocalAppOptions} from './model.js'
import {RollingRestarts} from './rolling-restart.js'
import {buildStatus} from './status.js'
import {serveUpstream} from './upstreams.js'

/**
 * The app running locally behind the emulated TCP Gateway: wires the gateway, the supervisor and the
 * parts that manage instances (InstancePool), rolling restarts, crash recovery and chaos. Emits
 * ProxyEvents ('event') and a CliError ('fatal') when every tcp instance was given up; never prints.
 */
export class LocalApp extends EventEmitter<{event: [ProxyEvent]; fatal: [Error]}> {
  readonly gateway: Gateway
  readonly supervisor = new Supervisor()
  /** The app directory's claim from start() on (undefined without one, or when the directory is not writable). */
  private directoryClaim?: DirectoryClaim
  /** Set once start() got the directory: before that (another gateway runs there) there is nothing to stop. */
  private claimed = false
  private identity!: AppIdentity
  private readonly aborter = new AbortController()
  private readonly runtime: AppRuntime
  private readonly pool: InstancePool
  private readonly restarts: RollingRestarts
  private readonly crashes: CrashRecovery
  private readonly chaos?: ChaosScheduler

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
    this.runtime = {
      options,
      gateway: this.gateway,
      supervisor: this.supervisor,
      signal: this.aborter.signal,
      emitEvent: (event) => this.emit('event', event),
      environmentFor: (type, index, port) => this.environmentFor(type, index, port),
    }
    this.pool = new InstancePool(this.runtime)
    this.restarts = new RollingRestarts(this.runtime, this.pool)
    this.crashes = new CrashRecovery(this.runtime, this.pool, (error) => this.emit('fatal', this.withBootHints(error)))
    if (options.chaos) this.chaos = new ChaosScheduler(options.chaos, this.pool, this.restarts, this.runtime.emitEvent)
    this.gateway.on('event', (e: GatewayEvent) => {
      const event = proxyEventOf(e, (backendId) => this.pool.withBackend(backendId))
      if (event) this.runtime.emitEvent(event)
    })
    this.supervisor.on('event', (e: SupervisorEvent) => {
      if (e.type === 'output') this.runtime.emitEvent({event: 'output', instance: e.id, stream: e.stream, line: e.line})
      else if (e.type === 'exited') this.crashes.onExited(e)
    })
  }

  get tcpUrl(): string {
    return this.identity?.tcpUrl
  }

  get restarting(): boolean {
    return this.restarts.running
  }

  /** The environment a new container of this type gets (used by `env --local` too). */
  environmentFor(type: string, index: number, port?: number): Record<string, string> {
    return containerEnv(this.identity, {type, index, port}, this.options.parentEnv, this.options.dotenv)
  }

  /**
   * Listens, starts every process and resolves once each tcp instance is ready or has failed.
   * Fails when no tcp instance (nor upstream) became ready: the app could not serve anybody.
   * `claimDirectory` (tcp:proxy's is the state file, see proxy/run.ts) runs first and may refuse the start.
   */
  async start(claimDirectory?: ClaimDirectory<DirectoryClaim>): Promise<void> {
    // before anything listens or starts: refuses when another tcp:proxy runs in this directory
    this.directoryClaim = await claimDirectory?.(this.options.cwd, this.supervisor, {
      app: this.options.app,
      graceMs: this.options.graceMs,
      onLeftovers: ({gatewayPid, pids}) =>
        this.runtime.emitEvent({event: 'leftovers-stopping', gatewayPid, pids, graceMs: this.options.graceMs}),
    })
    this.claimed = true
    if (this.aborter.signal.aborted) return
    const {host, port} = await this.gateway.listen()
    const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
    this.identity = {app: this.options.app, version: this.options.version, tcpUrl: tcpUrl(publicHost, port)}
    const {transport, transportFallback} = this.gateway
    this.runtime.emitEvent({
      event: 'gateway-listening',
      host,
      port,
      tcpUrl: this.identity.tcpUrl,
      transport: transport.name,
      ...(transportFallback ? {transportFallback} : {}),
    })

    const upstreamsReady = this.options.upstreams.map((upstream, i) => serveUpstream(this.runtime, upstream, i + 1))
    const boots: Promise<boolean>[] = []
    this.crashes.startingUp = true
    try {
      for (const processType of this.options.formation) {
        for (let index = 1; index <= processType.count; index++) boots.push(this.pool.start(processType, index))
      }

      await Promise.all(boots)
    } finally {
      this.crashes.startingUp = false
    }

    const tcpCount = this.pool.processType('tcp')?.count ?? 0
    const tcpReady = this.pool.all.some((i) => i.type === 'tcp' && i.state === 'ready')
    if (tcpCount > 0 && !tcpReady && this.options.upstreams.length === 0 && !this.aborter.signal.aborted) {
      throw this.withBootHints(
        new CliError('No tcp instance became ready: the gateway has nothing to send connections to.', {
          suggestions: [
            'Make the tcp process listen on the port in $PORT (on 0.0.0.0, not the TCP_URL port).',
            'Raise --boot-timeout if it needs longer than that to start.',
          ],
        }),
      )
    }

    if (tcpCount === 0) await Promise.race(upstreamsReady)
    this.chaos?.start()
  }

  /** Puts what the tcp instances' own output says about a failed boot first among the suggestions. */
  private withBootHints(error: CliError): CliError {
    const port = this.identity ? (parseHostPortUrl(this.identity.tcpUrl).port ?? 0) : 0
    const hints = this.pool.all
      .filter((i) => i.type === 'tcp' && i.process)
      .flatMap((i) => bootFailureHints(i.name, i.process!.recentOutput(), port))
    if (hints.length === 0) return error
    return new CliError(error.message, {
      exitCode: error.exitCode,
      code: error.code,
      suggestions: [...new Set(hints), ...error.suggestions],
    })
  }

  /** Rolling restart of every tcp instance, resolved once it is complete (new generation serving, old one gone). */
  restart(reason: string): Promise<RestartReport> {
    return this.restarts.request({reason})
  }

  /** --watch: a rolling restart because these files changed. */
  restartForChanges(files: string[]): Promise<RestartReport> {
    return this.restarts.request({reason: 'watch', files})
  }

  status(): LocalStatus {
    return buildStatus(
      {name: this.options.app, tcpUrl: this.tcpUrl, restarting: this.restarting},
      this.pool.all,
      this.gateway,
    )
  }

  /** Graceful stop: stop accepting, SIGTERM every process group, SIGKILL after the grace period. */
  async stop(reason: string): Promise<void> {
    if (this.aborter.signal.aborted) return
    if (!this.claimed) {
      this.abortEverything()
      return
    }

    this.runtime.emitEvent({event: 'shutdown', reason})
    this.abortEverything()
    await this.gateway.close()
    await this.supervisor.stopAll(this.options.graceMs)
    this.gateway.destroy()
    this.directoryClaim?.remove()
    this.runtime.emitEvent({event: 'stopped'})
  }

  /** Second Ctrl-C: no more waiting. */
  forceStop(): void {
    this.abortEverything()
    this.supervisor.killAll()
    this.gateway.destroy()
  }

  /** Ends every wait (boots, backoffs, probes) and cancels every scheduled restart. */
  private abortEverything(): void {
    this.aborter.abort()
    this.chaos?.stop()
    this.pool.cancelRestartTimers()
  }
}
