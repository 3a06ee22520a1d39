import {BaseCommand} from '../../lib/command.js'
import {ProxyOutput} from '../../lib/output/proxy-log.js'
import {renderProxyStatus} from '../../lib/output/proxy-status.js'
import type {ProxyEvent} from '../../lib/contract.js'
import {proxyFlags} from '../../lib/proxy/flags.js'
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

  static override flags = proxyFlags

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
    const {outputFinished} = await runUntilStopped(app, {
      dir: source.dir,
      version: this.config.version,
      watch: flags.watch,
      keys: process.stdin,
      terminal: this.terminal,
      onOutputFailed: (listener) => output.onFailed(listener),
      announceControl: (control) => output.control(control),
      printStatus: () => process.stderr.write(renderProxyStatus(app.status())),
      warn: (message) => this.warn(message),
      finishOutput: () => output.finish(),
    }).catch((error) => {
      throw gatewayCliError(error)
    })
    // Output nobody takes (a stalled reader, a hung-up terminal) must not keep the process alive.
    if (!outputFinished || process.stderr.writableLength > 0) this.exit(0)
  }

  /** stdout's failure is reported to runUntilStopped (ProxyOutput.onFailed), which stops everything first. */
  protected override onOutputClosed(): void {}
}
