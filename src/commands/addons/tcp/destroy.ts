import {Flags} from '@oclif/core'

import {connectToApp} from '../../../lib/api/context.js'
import {appFlags} from '../../../lib/api/flags.js'
import {BaseCommand} from '../../../lib/command.js'
import {debugLogger} from '../../../lib/debug-log.js'
import {type Spinner, startSpinner} from '../../../lib/output/spinner.js'
import {canPrompt} from '../../../lib/tcp-addon/common.js'
import {
  checkConfirmation,
  type DestroyResult,
  destroyTcpAddon,
  destroyWarning,
  loadDestroyTarget,
} from '../../../lib/tcp-addon/destroy.js'
import {askAppName} from '../../../lib/tcp-addon/prompts.js'

export default class AddonsTcpDestroy extends BaseCommand {
  static override summary = "Remove the app's TCP Gateway addon (TCP_URL goes away)."
  static override description = `Asks you to type the app name on a terminal; otherwise (scripts, --json) --confirm APP is required.
Exit codes: 4 when the app has no TCP Gateway addon, 2 when no confirmation can be obtained, 1 when the confirmation does not match the app name (nothing is removed).

--json prints {app, addon: {id, provider, plan, planDisplayName, status, provisionedAt}, tcpUrl, destroyed: true}.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> -a my-app',
    '<%= config.bin %> <%= command.id %> -a my-app --confirm my-app --json',
  ]

  static override flags = {
    ...appFlags,
    confirm: Flags.string({summary: 'The app name, to confirm without a prompt (required when not on a terminal).'}),
  }

  static override enableJsonFlag = true

  async run(): Promise<DestroyResult> {
    const {flags} = await this.parse(AddonsTcpDestroy)
    const {client, app} = await connectToApp(flags, {log: debugLogger(flags.debug)})
    const json = this.jsonEnabled()
    const target = await loadDestroyTarget(client, app.name, this.commandLine)
    this.info(`Warning: ${destroyWarning(target)}`)
    const typed = flags.confirm ?? (canPrompt(json) ? await askAppName(app.name) : undefined)
    checkConfirmation(app.name, typed, this.commandLine)
    let spinner: Spinner | undefined
    try {
      spinner = await startSpinner(`Removing the TCP Gateway addon ${target.addon.id} of ${app.name}`, {json})
      const result = await destroyTcpAddon(client, target)
      spinner.succeed(`Removed the TCP Gateway addon ${target.addon.id} of ${app.name}`)
      return result
    } catch (error) {
      spinner?.fail(`Removing the TCP Gateway addon ${target.addon.id} of ${app.name} failed`)
      throw error
    }
  }
}
