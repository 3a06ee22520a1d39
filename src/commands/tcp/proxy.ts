import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/command.js'
import {
  BALANCE_MODES,
  DEFAULT_DROP_MODE,
  DROP_MODES,
  GATEWAY_DEFAULTS,
  MAX_CONNECTIONS_MODES,
} from '../../lib/gateway/types.js'
import {ProxyOutput} from '../../lib/output/proxy-log.js'
import {renderProxyStatus} from '../../lib/output/proxy-status.js'
import type {ProxyEvent} from '../../lib/contract.js'
import {LocalApp} from '../../lib/proxy/local-app.js'
import {gatewayCliError, loadAppSource, localAppOptions, startupWarnings} from '../../lib/proxy/options.js'
import {runUntilStopped} from '../../lib/proxy/run.js'

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
    env: Flags.string({
      char: 'e',
      summary: 'Env file to load (repeatable; default ./.env when it exists).',
      multiple: true,
    }),
    formation: Flags.string({
      char: 'm',
      summary: 'How many instances of each type, e.g. tcp=2,web=1 (default 1 of each).',
    }),
    only: Flags.string({summary: 'Start only these process types (comma-separated), e.g. --only tcp.'}),
    app: Flags.string({char: 'a', summary: 'App name given to the processes as APP (default: the directory name).'}),
    host: Flags.string({summary: 'Address the gateway listens on.', default: '127.0.0.1'}),
    port: Flags.integer({
      char: 'p',
      summary: 'Port the gateway listens on (TCP_URL port).',
      default: 20_003,
      min: 0,
      max: 65_535,
    }),
    'web-port': Flags.integer({
      summary: 'PORT of the first web instance (+1 per instance).',
      default: 5000,
      min: 1,
      max: 65_535,
    }),
    upstream: Flags.string({
      summary: 'Also balance to a server you run yourself, HOST:PORT (repeatable).',
      multiple: true,
    }),
    balance: Flags.string({
      summary: 'How a new connection picks its instance.',
      options: BALANCE_MODES,
      default: GATEWAY_DEFAULTS.balance,
    }),
    drop: Flags.string({
      summary: 'How connections left on a dead instance end.',
      options: DROP_MODES,
      default: DEFAULT_DROP_MODE,
    }),
    grace: Flags.string({summary: 'Time between SIGTERM and SIGKILL.', default: '30s'}),
    'boot-timeout': Flags.string({summary: 'Time a tcp instance has to accept its first connection.', default: '60s'}),
    'queue-timeout': Flags.string({summary: 'How long a client waits while no instance is ready.', default: '30s'}),
    'max-crashes': Flags.integer({
      summary:
        'Crashes after which an instance is given up (a tcp instance that exits during the first boot is not restarted: the start-up fails like a deployment).',
      default: 13,
      min: 0,
    }),
    watch: Flags.boolean({
      char: 'w',
      summary: 'Rolling restart when files in the app directory change (node_modules, .git, dist, dotfiles ignored).',
    }),
    chaos: Flags.string({
      summary:
        "Restart one random tcp instance at random times, as the platform's scheduler may: 5m, or a range 30s..2m.",
    }),
    'backoff-base': Flags.string({
      summary: 'First delay of the exponential backoff of crash restarts and restart retries.',
      default: '1s',
      hidden: true,
    }),
    'restart-attempts': Flags.integer({
      summary: 'Start attempts of a new instance during a rolling restart.',
      default: 20,
      min: 1,
      hidden: true,
    }),
    'max-connections': Flags.integer({
      summary: 'Connections open at once through the gateway (default: no limit).',
      min: 1,
    }),
    'max-connections-mode': Flags.string({
      summary:
        'What a client beyond --max-connections gets: wait for a free slot (up to --queue-timeout) or an immediate reset.',
      options: MAX_CONNECTIONS_MODES,
      default: GATEWAY_DEFAULTS.maxConnectionsMode,
    }),
    'idle-timeout': Flags.string({
      summary: 'Close a connection after this long without traffic (default: never, as on the platform).',
    }),
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
    const app = new LocalApp(await localAppOptions(flags, source))
    const output = new ProxyOutput(process.stdout, {
      json: flags.json,
      noColor: flags['no-color'],
      timestamps: flags.timestamps,
      connections: flags['log-connections'],
    })
    app.on('event', (e: ProxyEvent) => output.event(e))
    for (const warning of startupWarnings(source, flags.host)) this.warn(warning)
    output.registerInstances(source.formation)
    let flushed: boolean
    try {
      await runUntilStopped(app, {
        dir: source.dir,
        version: this.config.version,
        watch: flags.watch,
        keys: process.stdin,
        terminal: this.terminal,
        onOutputFailed: (listener) => output.onFailed(listener),
        announceControl: (control) => output.control(control),
        printStatus: () => process.stderr.write(renderProxyStatus(app.status())),
        warn: (message) => this.warn(message),
      })
    } catch (error) {
      throw gatewayCliError(error)
    } finally {
      flushed = await output.finish()
    }

    // Output nobody takes (a stalled reader, a hung-up terminal) must not keep the process alive.
    if (!flushed || process.stderr.writableLength > 0) this.exit(0)
  }

  /** stdout's failure is reported to runUntilStopped (ProxyOutput.onFailed), which stops everything first. */
  protected override onOutputClosed(): void {}
}
