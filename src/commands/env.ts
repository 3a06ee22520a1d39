import {Args, Flags} from '@oclif/core'

import {appFlags} from '../lib/api/flags.js'
import {BaseCommand} from '../lib/command.js'
import {type EnvVars, formatEnv, formatShellEnv, shellSkippedWarning, sortedEntries} from '../lib/env-format.js'
import {localVariables, platformVariables} from '../lib/env-variables.js'

export default class Env extends BaseCommand {
  static override summary = "Print the app's environment variables, or the value of one."
  static override description = `Without NAME, prints every variable as NAME=value, one per line, sorted by name, exactly as \`scalingo env\` does (alias values such as $SCALINGO_MONGO_URL are shown as stored).
With NAME, prints only its value (aliases resolved, like \`scalingo env-get\`) and exits with code 4 when it is not set.
Nothing but the data is written to stdout, so the output can be piped or evaluated.
With --local, prints instead the environment the instances of the local gateway (\`tcp:proxy\`, running in this directory or a parent) get, TCP_URL included, without any API call or token. PORT is left out: every instance gets its own.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> -a my-app | grep TCP_URL',
    '<%= config.bin %> <%= command.id %> TCP_URL -a my-app',
    'eval "$(<%= config.bin %> <%= command.id %> -a my-app --shell)"',
    '<%= config.bin %> <%= command.id %> --local TCP_URL',
  ]

  static override args = {
    // Never read from stdin (oclif's default for a missing argument): `... | scalingo-tcp env -a APP` must print
    // every variable, and probing a non-TTY stdin costs every scripted call several milliseconds.
    name: Args.string({description: 'Name of a single variable to print.', ignoreStdin: true}),
  }

  static override flags = {
    ...appFlags,
    local: Flags.boolean({
      summary: 'Read the environment of the local gateway started by tcp:proxy in this directory, not the platform.',
    }),
    type: Flags.string({
      summary: 'With --local: the process type whose environment to print (default: tcp).',
      dependsOn: ['local'],
    }),
    shell: Flags.boolean({
      summary:
        "Print `export NAME='value'` lines, safely quoted for POSIX shells (names a shell cannot hold are left out, with a warning).",
      exclusive: ['json'],
    }),
  }

  static override enableJsonFlag = true

  async run(): Promise<EnvVars> {
    const {args, flags} = await this.parse(Env)
    const vars = flags.local
      ? await localVariables(args.name, flags.type ?? 'tcp', this.commandLine('env'))
      : await platformVariables(args.name, flags, this.commandLine('env'))
    const sorted = Object.fromEntries(sortedEntries(vars))
    if (this.jsonEnabled()) return sorted
    if (flags.shell) this.printShell(sorted)
    else if (args.name) process.stdout.write(`${sorted[args.name]}\n`)
    else process.stdout.write(formatEnv(sorted, 'lines'))
    return sorted
  }

  /** Only names a shell can hold: any other is shell syntax under `eval` (a command, or an error). */
  private printShell(vars: EnvVars): void {
    const {text, skipped} = formatShellEnv(vars)
    process.stdout.write(text)
    if (skipped > 0) this.warn(shellSkippedWarning(skipped))
  }
}
