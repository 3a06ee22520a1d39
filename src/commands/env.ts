import {Args, Flags} from '@oclif/core'

import {connectToApp} from '../lib/api/context.js'
import {appFlags} from '../lib/api/flags.js'
import {listVariables} from '../lib/api/resources.js'
import {BaseCommand} from '../lib/command.js'
import {debugLogger} from '../lib/debug-log.js'
import {type EnvVars, formatEnv, sortedEntries, toEnvVars} from '../lib/env-format.js'
import {NotFoundError} from '../lib/errors.js'

export default class Env extends BaseCommand {
  static override summary = "Print the app's environment variables, or the value of one."
  static override description = `Without NAME, prints every variable as NAME=value, one per line, sorted by name, exactly as \`scalingo env\` does (alias values such as $SCALINGO_MONGO_URL are shown as stored).
With NAME, prints only its value (aliases resolved, like \`scalingo env-get\`) and exits with code 4 when it is not set.
Nothing but the data is written to stdout, so the output can be piped or evaluated.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> -a my-app | grep TCP_URL',
    '<%= config.bin %> <%= command.id %> TCP_URL -a my-app',
    'eval "$(<%= config.bin %> <%= command.id %> -a my-app --shell)"',
  ]

  static override args = {
    name: Args.string({description: 'Name of a single variable to print.'}),
  }

  static override flags = {
    ...appFlags,
    shell: Flags.boolean({summary: "Print `export NAME='value'` lines, safely quoted for POSIX shells.", exclusive: ['json']}),
  }

  static override enableJsonFlag = true

  async run(): Promise<EnvVars> {
    const {args, flags} = await this.parse(Env)
    const {client, app, region} = await connectToApp(flags, {log: debugLogger(flags.debug)})
    let vars: EnvVars
    if (args.name) {
      const variables = await listVariables(client, app.name, {aliases: false})
      const found = variables.find((v) => v.name === args.name)
      if (!found) {
        throw new NotFoundError(`Variable ${args.name} is not set on app ${app.name} (region ${region.name}).`, [
          `List the app's variables with \`${this.config.bin} env -a ${app.name}\``,
        ])
      }

      vars = {[found.name]: found.value}
    } else {
      vars = toEnvVars(await listVariables(client, app.name, {aliases: true}))
    }

    const sorted = Object.fromEntries(sortedEntries(vars))
    if (this.jsonEnabled()) return sorted
    if (flags.shell) process.stdout.write(formatEnv(sorted, 'shell'))
    else if (args.name) process.stdout.write(`${sorted[args.name]}\n`)
    else process.stdout.write(formatEnv(sorted, 'lines'))
    return sorted
  }
}
