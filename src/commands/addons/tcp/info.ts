import {Flags} from '@oclif/core'

import {connectToApp} from '../../../lib/api/context.js'
import {appFlags} from '../../../lib/api/flags.js'
import {BaseCommand} from '../../../lib/command.js'
import {connectToLocalGateway} from '../../../lib/control/client.js'
import {debugLogger} from '../../../lib/debug-log.js'
import {loadTcpInfo, renderTcpInfo, type TcpInfo} from '../../../lib/tcp-addon/info.js'
import {loadLocalTcpInfo, type LocalTcpInfo, renderLocalTcpInfo} from '../../../lib/tcp-addon/local.js'

export default class AddonsTcpInfo extends BaseCommand {
  static override summary = "Show the app's TCP Gateway addon: plan, status, TCP_URL and tcp containers."
  static override description = `Prints the addon id, plan, status, provisioning date, TCP_URL with its host and port, the tcp process type of the formation and the tcp containers (name, state, size), in the Heroku/Scalingo \`=== header\` + \`Key: value\` style.
Exits with code 4 when the app has no TCP Gateway addon.

--json prints {app, addon: {id, provider, plan, planDisplayName, status, provisionedAt}, tcpUrl, host, port, formation: {amount, size} | null, containers: [{name, state, size}]}.

With --local, shows instead the local gateway that \`tcp:proxy\` runs in this directory (or a parent), without any API call or token (-a and --region are ignored): its TCP_URL, control interface, and every instance with its state (booting, ready, draining, crashed, stopped, failed), pid, port, generation, uptime, connections, bytes in and out and restarts. Exits with code 1 when no gateway is running there.
--local --json prints {local: true, app, dir, tcpUrl, host, port, controlUrl, gatewayPid, startedAt, restarting, connections: {active, total}, instances: [{name, type, generation, state, pid, port, uptimeSeconds, activeConnections, totalConnections, bytesIn, bytesOut, restarts}]}.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> -a my-app',
    '<%= config.bin %> <%= command.id %> -a my-app --json | jq -r .tcpUrl',
    '<%= config.bin %> <%= command.id %> --local',
  ]

  static override flags = {
    ...appFlags,
    local: Flags.boolean({summary: 'Show the local gateway started by tcp:proxy in this directory, not the platform.'}),
  }

  static override enableJsonFlag = true

  async run(): Promise<TcpInfo | LocalTcpInfo> {
    const {flags} = await this.parse(AddonsTcpInfo)
    if (flags.local) {
      const local = await loadLocalTcpInfo(await connectToLocalGateway({cwd: process.cwd()}))
      if (!this.jsonEnabled()) process.stdout.write(renderLocalTcpInfo(local))
      return local
    }

    const {client, app} = await connectToApp(flags, {log: debugLogger(flags.debug)})
    const info = await loadTcpInfo(client, app.name, this.commandLine)
    if (!this.jsonEnabled()) process.stdout.write(renderTcpInfo(info))
    return info
  }
}
