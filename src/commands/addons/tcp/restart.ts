import {connectToApp} from '../../../lib/api/context.js'
import {appFlags} from '../../../lib/api/flags.js'
import {withInterrupt} from '../../../lib/api/wait.js'
import {BaseCommand} from '../../../lib/command.js'
import {debugLogger} from '../../../lib/debug-log.js'
import {parseDuration} from '../../../lib/duration.js'
import {type Spinner, startSpinner} from '../../../lib/output/spinner.js'
import {waitFlags} from '../../../lib/tcp-addon/common.js'
import {type RestartResult, restartTcp} from '../../../lib/tcp-addon/restart.js'

export default class AddonsTcpRestart extends BaseCommand {
  static override summary = 'Restart the tcp containers behind the TCP Gateway and wait for the restart to finish.'
  static override description = `Restarts the containers of the tcp process type (POST /apps/:app/restart with scope ["tcp"]) and follows the platform operation until it is done (exit 0) or fails (exit 1, with the platform's error), unless --no-wait.
Connections open on the old containers are dropped when they stop: clients must reconnect.
Gives up after --wait-timeout with exit code 5; Ctrl-C stops waiting (exit 130) while the restart carries on.

--json prints {app, scope: ["tcp"], operation: {id, type, status, error} | null, waited, durationSeconds}.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> -a my-app',
    '<%= config.bin %> <%= command.id %> -a my-app --no-wait',
    '<%= config.bin %> <%= command.id %> -a my-app --wait-timeout 10m --json',
  ]

  static override flags = {...appFlags, ...waitFlags}
  static override enableJsonFlag = true

  async run(): Promise<RestartResult> {
    const {flags} = await this.parse(AddonsTcpRestart)
    const timeoutMs = parseDuration(flags['wait-timeout'])
    const {client, app} = await connectToApp(flags, {log: debugLogger(flags.debug)})
    const json = this.jsonEnabled()
    let spinner: Spinner | undefined
    this.info('Note: connections open on the old tcp containers are dropped when they stop; clients must reconnect and retry.')
    try {
      spinner = await startSpinner(`Restarting the tcp containers of ${app.name}`, {json})
      const result = await withInterrupt((signal) =>
        restartTcp(client, app.name, {
          wait: flags.wait,
          timeoutMs,
          signal,
          bin: this.config.bin,
          onProgress: (status) => spinner?.update(`Restarting the tcp containers of ${app.name}: ${status}`),
        }),
      )
      if (result.waited) spinner.succeed(`The tcp containers of ${app.name} restarted in ${result.durationSeconds} s`)
      else spinner.succeed(`Restart of the tcp containers of ${app.name} requested${result.operation ? ` (operation ${result.operation.id})` : ''}`)
      return result
    } catch (error) {
      spinner?.fail(`Restarting the tcp containers of ${app.name}: stopped`)
      throw error
    }
  }
}
