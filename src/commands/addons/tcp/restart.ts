import {Flags} from '@oclif/core'

import {type ConnectFlags, connectToApp} from '../../../lib/api/context.js'
import {appFlags} from '../../../lib/api/flags.js'
import {withInterrupt} from '../../../lib/api/wait.js'
import {BaseCommand} from '../../../lib/command.js'
import {connectToLocalGateway} from '../../../lib/control/client.js'
import {debugLogger} from '../../../lib/debug-log.js'
import {parseDuration} from '../../../lib/duration.js'
import {type Spinner, startSpinner} from '../../../lib/output/spinner.js'
import {waitFlags} from '../../../lib/tcp-addon/common.js'
import {type LocalRestartResult, localRestartTarget} from '../../../lib/tcp-addon/local.js'
import {followRestart, platformRestartTarget, type RestartResult} from '../../../lib/tcp-addon/restart.js'

export default class AddonsTcpRestart extends BaseCommand {
  static override summary = 'Restart the tcp containers behind the TCP Gateway and wait for the restart to finish.'
  static override description = `Restarts the containers of the tcp process type (POST /apps/:app/restart with scope ["tcp"]) and follows the platform operation until it is done (exit 0) or fails (exit 1, with the platform's error), unless --no-wait.
Connections open on the old containers are dropped when they stop: clients must reconnect.
Gives up after --wait-timeout with exit code 5; Ctrl-C stops waiting (exit 130) while the restart carries on.

--json prints {app, scope: ["tcp"], operation: {id, type, status, error} | null, waited, durationSeconds}.

With --local, performs instead the rolling restart of the local gateway that \`tcp:proxy\` runs in this directory (or a parent), through its control interface, without any API call or token (-a and --region are ignored), with the same waiting, output and exit codes; exit 1 when no gateway is running there. --local --json adds report: {generation, durationMs, restarted, failed} | null (null with --no-wait).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> -a my-app',
    '<%= config.bin %> <%= command.id %> -a my-app --no-wait',
    '<%= config.bin %> <%= command.id %> -a my-app --wait-timeout 10m --json',
    '<%= config.bin %> <%= command.id %> --local',
  ]

  static override flags = {
    ...appFlags,
    ...waitFlags,
    local: Flags.boolean({
      summary: 'Restart the instances of the local gateway started by tcp:proxy in this directory, not the platform.',
    }),
  }

  static override enableJsonFlag = true

  async run(): Promise<RestartResult | LocalRestartResult> {
    const {flags} = await this.parse(AddonsTcpRestart)
    const timeoutMs = parseDuration(flags['wait-timeout'])
    const target = flags.local
      ? localRestartTarget(await connectToLocalGateway({cwd: process.cwd()}), this.commandLine)
      : await this.platformTarget(flags)
    const json = this.jsonEnabled()
    let spinner: Spinner | undefined
    this.info(target.note)
    try {
      spinner = await startSpinner(`Restarting ${target.subject}`, {json})
      const result = await withInterrupt((signal) =>
        followRestart(target, {
          wait: flags.wait,
          timeoutMs,
          signal,
          onProgress: (status) => spinner?.update(`Restarting ${target.subject}: ${status}`),
        }),
      )
      const subject = target.subject.charAt(0).toUpperCase() + target.subject.slice(1)
      if (result.waited) spinner.succeed(`${subject} restarted in ${result.durationSeconds} s`)
      else
        spinner.succeed(
          `Restart of ${target.subject} requested${result.operation ? ` (operation ${result.operation.id})` : ''}`,
        )
      return result
    } catch (error) {
      spinner?.fail(`Restarting ${target.subject}: stopped`)
      throw error
    }
  }

  private async platformTarget(flags: ConnectFlags & {debug?: boolean}) {
    const {client, app} = await connectToApp(flags, {log: debugLogger(flags.debug)})
    return platformRestartTarget(client, app.name, this.commandLine)
  }
}
