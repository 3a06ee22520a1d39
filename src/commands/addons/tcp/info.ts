import {connectToApp} from '../../../lib/api/context.js'
import {appFlags} from '../../../lib/api/flags.js'
import {BaseCommand} from '../../../lib/command.js'
import {debugLogger} from '../../../lib/debug-log.js'
import {loadTcpInfo, renderTcpInfo, type TcpInfo} from '../../../lib/tcp-addon/info.js'

export default class AddonsTcpInfo extends BaseCommand {
  static override summary = "Show the app's TCP Gateway addon: plan, status, TCP_URL and tcp containers."
  static override description = `Prints the addon id, plan, status, provisioning date, TCP_URL with its host and port, the tcp process type of the formation and the tcp containers (name, state, size), in the Heroku/Scalingo \`=== header\` + \`Key: value\` style.
Exits with code 4 when the app has no TCP Gateway addon.

--json prints {app, addon: {id, provider, plan, planDisplayName, status, provisionedAt}, tcpUrl, host, port, formation: {amount, size} | null, containers: [{name, state, size}]}.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> -a my-app',
    '<%= config.bin %> <%= command.id %> -a my-app --json | jq -r .tcpUrl',
  ]

  static override flags = {...appFlags}
  static override enableJsonFlag = true

  async run(): Promise<TcpInfo> {
    const {flags} = await this.parse(AddonsTcpInfo)
    const {client, app} = await connectToApp(flags, {log: debugLogger(flags.debug)})
    const info = await loadTcpInfo(client, app.name, this.config.bin)
    if (!this.jsonEnabled()) process.stdout.write(renderTcpInfo(info))
    return info
  }
}
