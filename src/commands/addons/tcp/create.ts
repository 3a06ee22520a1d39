import {Flags} from '@oclif/core'

import {connectToApp} from '../../../lib/api/context.js'
import {appFlags} from '../../../lib/api/flags.js'
import {withInterrupt} from '../../../lib/api/wait.js'
import {BaseCommand} from '../../../lib/command.js'
import {debugLogger} from '../../../lib/debug-log.js'
import {parseDuration} from '../../../lib/duration.js'
import {canPrompt, waitFlags} from '../../../lib/tcp-addon/common.js'
import {type CreateResult, createTcpAddon, renderCreateSummary} from '../../../lib/tcp-addon/create.js'
import {StepSpinner} from '../../../lib/tcp-addon/progress.js'
import {confirmScaleTcp, selectPlan} from '../../../lib/tcp-addon/prompts.js'

export default class AddonsTcpCreate extends BaseCommand {
  static override summary = 'Provision the TCP Gateway addon and print its TCP_URL.'
  static override description = `Provisions the tcp-gateway addon (plan looked up by name, tcplb by default; on a terminal, a list to pick from when several plans exist), waits until it is running and TCP_URL is set, then checks the tcp process type: it warns when the Procfile has no \`tcp:\` line deployed, and scales tcp from 0 with --scale N (or asks on a terminal).
Only TCP_URL is printed on stdout, so \`URL=$(<%= config.bin %> <%= command.id %> -a my-app)\` works; the summary goes to stderr.
Exit codes: 1 when the app already has the addon or the platform refuses (its message is shown), 5 when --wait-timeout passes, 130 on Ctrl-C while waiting (provisioning carries on).

--json prints {app, addon: {id, provider, plan, planDisplayName, status, provisionedAt}, tcpUrl, host, port, message, waited, formation: {hasTcpType, amount, scaledTo}, warnings}.`

  static override examples = [
    'URL=$(<%= config.bin %> <%= command.id %> -a my-app)',
    '<%= config.bin %> <%= command.id %> -a my-app --scale 1',
    '<%= config.bin %> <%= command.id %> -a my-app --plan tcplb --no-wait --json',
  ]

  static override flags = {
    ...appFlags,
    plan: Flags.string({
      summary: 'Plan name (default: tcplb; on a terminal, pick from a list when there are several).',
    }),
    scale: Flags.integer({
      min: 1,
      summary:
        'If the tcp process type is scaled to 0, scale it to N containers (running containers are left as they are).',
    }),
    ...waitFlags,
  }

  static override enableJsonFlag = true

  async run(): Promise<CreateResult> {
    const {flags} = await this.parse(AddonsTcpCreate)
    const timeoutMs = parseDuration(flags['wait-timeout'])
    const {client, app} = await connectToApp(flags, {log: debugLogger(flags.debug)})
    const json = this.jsonEnabled()
    const interactive = canPrompt(json)
    const steps = new StepSpinner(json)
    const options = {
      app: app.name,
      plan: flags.plan,
      wait: flags.wait,
      timeoutMs,
      scale: flags.scale,
      commandLine: this.commandLine,
      cwd: process.cwd(),
    }
    let result: CreateResult
    try {
      result = await withInterrupt((signal) =>
        createTcpAddon(
          client,
          {...options, signal},
          {
            pickPlan: interactive ? selectPlan : undefined,
            confirmScale: interactive ? () => confirmScaleTcp(app.name) : undefined,
            progress: (text) => steps.progress(text),
            done: (text) => steps.done(text),
            warn: (text) => steps.warn(text),
          },
        ),
      )
    } catch (error) {
      steps.fail('Stopped')
      throw error
    }

    if (json) return result
    process.stderr.write(renderCreateSummary(result))
    if (result.tcpUrl) process.stdout.write(`${result.tcpUrl}\n`)
    return result
  }
}
