import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/command.js'
import {type LocalControl, startLocalControl} from '../../lib/control/local-control.js'
import {STATE_FILE_NAME} from '../../lib/control/state-file.js'
import {parseDuration, parseDurationRange} from '../../lib/duration.js'
import {UsageError} from '../../lib/errors.js'
import {LogPrinter} from '../../lib/output/log-lines.js'
import {printProxyEvent} from '../../lib/output/proxy-log.js'
import {renderProxyStatus} from '../../lib/output/proxy-status.js'
import {theme} from '../../lib/output/theme.js'
import {defaultAppName, gitCommit} from '../../lib/proxy/container-env.js'
import type {ProxyEvent} from '../../lib/proxy/events.js'
import {LocalApp} from '../../lib/proxy/local-app.js'
import {loadAppSource, parseUpstream} from '../../lib/proxy/options.js'
import {installRestartTriggers} from '../../lib/proxy/triggers.js'

export default class TcpProxy extends BaseCommand {
  static override summary = 'Run the app locally behind a gateway that behaves like the TCP Gateway addon.'
  static override description = `Starts the Procfile's processes (the tcp type on free ports, web on --web-port), listens on one public address and balances each new connection to a ready tcp instance at handshake time, as the platform does. Every process gets TCP_URL pointing at the gateway. Ctrl-C or SIGTERM stops everything gracefully (SIGTERM, then SIGKILL after --grace); a second Ctrl-C forces it.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -m tcp=2,web=1 --port 20003',
    '<%= config.bin %> <%= command.id %> --upstream 127.0.0.1:1883',
    '<%= config.bin %> <%= command.id %> --json | jq -c \'select(.event == "instance-ready")\'',
  ]

  static override flags = {
    procfile: Flags.string({char: 'f', summary: 'Procfile to read (default: ./Procfile).'}),
    env: Flags.string({char: 'e', summary: 'Env file to load (repeatable; default ./.env when it exists).', multiple: true}),
    formation: Flags.string({char: 'm', summary: 'How many instances of each type, e.g. tcp=2,web=1 (default 1 of each).'}),
    only: Flags.string({summary: 'Start only these process types (comma-separated), e.g. --only tcp.'}),
    app: Flags.string({char: 'a', summary: 'App name given to the processes as APP (default: the directory name).'}),
    host: Flags.string({summary: 'Address the gateway listens on.', default: '127.0.0.1'}),
    port: Flags.integer({char: 'p', summary: 'Port the gateway listens on (TCP_URL port).', default: 20_003, min: 0, max: 65_535}),
    'web-port': Flags.integer({summary: 'PORT of the first web instance (+1 per instance).', default: 5000, min: 1, max: 65_535}),
    upstream: Flags.string({summary: 'Also balance to a server you run yourself, HOST:PORT (repeatable).', multiple: true}),
    balance: Flags.string({summary: 'How a new connection picks its instance.', options: ['round-robin', 'least-conn'], default: 'round-robin'}),
    drop: Flags.string({summary: 'How connections left on a dead instance end.', options: ['blackhole', 'reset', 'close'], default: 'blackhole'}),
    grace: Flags.string({summary: 'Time between SIGTERM and SIGKILL.', default: '30s'}),
    'boot-timeout': Flags.string({summary: 'Time a tcp instance has to accept its first connection.', default: '60s'}),
    'queue-timeout': Flags.string({summary: 'How long a client waits while no instance is ready.', default: '30s'}),
    'max-crashes': Flags.integer({summary: 'Crashes after which an instance is given up.', default: 13, min: 0}),
    watch: Flags.boolean({char: 'w', summary: 'Rolling restart when files in the app directory change (node_modules, .git, dist, dotfiles ignored).'}),
    chaos: Flags.string({summary: 'Restart one random tcp instance at random times, as the platform\'s scheduler may: 5m, or a range 30s..2m.'}),
    'backoff-base': Flags.string({summary: 'First delay of the exponential backoff of crash restarts and restart retries.', default: '1s', hidden: true}),
    'restart-attempts': Flags.integer({summary: 'Start attempts of a new instance during a rolling restart.', default: 20, min: 1, hidden: true}),
    'max-connections': Flags.integer({summary: 'Connections open at once through the gateway (default: no limit).', min: 1}),
    'max-connections-mode': Flags.string({summary: 'What a client beyond --max-connections gets: wait for a free slot (up to --queue-timeout) or an immediate reset.', options: ['queue', 'refuse'], default: 'queue'}),
    'idle-timeout': Flags.string({summary: 'Close a connection after this long without traffic (default: never, as on the platform).'}),
    timestamps: Flags.boolean({char: 't', summary: 'Prefix every log line with the time.'}),
    'log-connections': Flags.boolean({summary: 'Log every connection opened and closed (always in --json).'}),
    json: Flags.boolean({summary: 'Print events as NDJSON on stdout instead of log lines.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(TcpProxy)
    const source = await loadAppSource({
      procfile: flags.procfile,
      envFiles: flags.env,
      formation: flags.formation,
      only: flags.only,
      hasUpstreams: Boolean(flags.upstream?.length),
    })
    const app = new LocalApp({
      cwd: source.dir,
      app: flags.app ?? defaultAppName(source.dir),
      version: await gitCommit(source.dir),
      formation: source.formation,
      upstreams: (flags.upstream ?? []).map(parseUpstream),
      parentEnv: process.env,
      dotenv: source.dotenv,
      host: flags.host,
      port: flags.port,
      webPort: flags['web-port'],
      balance: flags.balance as 'round-robin' | 'least-conn',
      drop: flags.drop as 'blackhole' | 'reset' | 'close',
      graceMs: parseDuration(flags.grace),
      bootTimeoutMs: parseDuration(flags['boot-timeout']),
      queueTimeoutMs: parseDuration(flags['queue-timeout']),
      maxCrashes: flags['max-crashes'],
      backoffBaseMs: parseDuration(flags['backoff-base']),
      restartAttempts: flags['restart-attempts'],
      chaos: flags.chaos === undefined ? undefined : parseChaos(flags.chaos),
      maxConnections: flags['max-connections'],
      maxConnectionsMode: flags['max-connections-mode'] as 'queue' | 'refuse',
      idleTimeoutMs: flags['idle-timeout'] === undefined ? 0 : parseDuration(flags['idle-timeout']),
      connectionEvents: Boolean(flags.json || flags['log-connections']),
    })

    const printer = new LogPrinter(process.stdout, theme(process.stdout, {noColor: flags['no-color'], json: flags.json}), {timestamps: flags.timestamps})
    const render = flags.json
      ? (e: ProxyEvent) => process.stdout.write(JSON.stringify({time: new Date().toISOString(), ...e}) + '\n')
      : (e: ProxyEvent) => printProxyEvent(printer, e, {connections: flags['log-connections']})
    app.on('event', render)
    for (const warning of source.warnings) this.warn(warning)
    if (!['127.0.0.1', 'localhost', '::1'].includes(flags.host)) {
      this.warn(`The gateway listens on ${flags.host}: it is reachable from the network, not only from this machine.`)
    }

    printer.register(source.formation.flatMap((p) => Array.from({length: p.count}, (_, i) => `${p.type}-${i + 1}`)))
    const announceControl = ({url, pageUrl}: LocalControl) => {
      // The status page URL is the one place the control token is ever shown: the user needs it to open the page.
      if (flags.json) {
        const time = new Date().toISOString()
        process.stdout.write(JSON.stringify({time, event: 'control-listening', url}) + '\n' + JSON.stringify({time, event: 'status-page', url: pageUrl}) + '\n')
      } else {
        printer.line('gateway', `control interface on ${url} (its token is in ${STATE_FILE_NAME})`, 'gateway')
        printer.line('gateway', `status page on ${pageUrl}`, 'gateway')
      }
    }

    const installTriggers = (stop: (reason: string) => void) => installRestartTriggers(app, {
      watchDir: flags.watch ? source.dir : undefined,
      keys: {input: process.stdin, status: () => process.stderr.write(renderProxyStatus(app.status())), quit: () => stop('key q'), interrupt: () => stop('SIGINT')},
    })
    await this.runUntilStopped(app, () => this.startControl(app, source.dir, announceControl), installTriggers)
  }

  /** For the --local commands and the status page: the token is in the 0600 state file and the page URL only. */
  private async startControl(app: LocalApp, dir: string, announce: (control: LocalControl) => void): Promise<LocalControl> {
    const control = await startLocalControl(app, {dir, version: this.config.version})
    if (control.stateFileError) this.warn(control.stateFileError)
    announce(control)
    return control
  }

  /** Resolves after a graceful stop; a second signal forces it (exit 130). */
  private async runUntilStopped(app: LocalApp, startControl: () => Promise<LocalControl>, installTriggers: (stop: (reason: string) => void) => () => void): Promise<void> {
    let signals = 0
    let onSignal!: (signal: string) => void
    const stopped = new Promise<void>((resolve, reject) => {
      onSignal = (signal: string) => {
        signals++
        if (signals === 1) void app.stop(signal).then(resolve, reject)
        else {
          app.forceStop()
          process.exit(130)
        }
      }

      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      // Whatever way this process ends, its children's process groups end with it.
      process.on('exit', () => app.supervisor.killAll())
      app.once('fatal', (error: Error) => void app.stop('fatal').then(() => reject(error), reject))
    })
    // SIGHUP's default action would kill us: during start-up it only asks for a restart once started.
    let hangupDuringStart = false
    const deferHangup = () => (hangupDuringStart = true)
    process.on('SIGHUP', deferHangup)
    try {
      await app.start()
    } catch (error) {
      await app.stop('start-up failed')
      throw error
    }

    const uninstallTriggers = installTriggers(onSignal)
    process.off('SIGHUP', deferHangup)
    if (hangupDuringStart) app.restart('SIGHUP').catch(() => {})
    const control = await startControl()
    try {
      await stopped
    } finally {
      uninstallTriggers()
      await control.close()
    }
  }
}

function parseChaos(text: string): {minMs: number; maxMs: number} {
  const range = parseDurationRange(text)
  if (range.minMs <= 0) throw new UsageError(`--chaos ${text}: the interval must be longer than 0.`, ['--chaos 5m', '--chaos 30s..2m'])
  return range
}
