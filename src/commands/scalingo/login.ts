import {Flags} from '@oclif/core'

import {authenticate, readTokenFromStdin} from '../../lib/api/login.js'
import {debugFlag} from '../../lib/api/flags.js'
import {BaseCommand} from '../../lib/command.js'
import {debugLogger} from '../../lib/debug-log.js'
import {UsageError} from '../../lib/errors.js'

/*
 * `scalingo:login`, not `login`: as a plugin, this command shares one namespace with the host's commands, and
 * every PaaS CLI has its own `login` (the Heroku CLI's is an alias of `auth:login`, which wins: ours was
 * unreachable there). No PaaS CLI has a `scalingo` topic. No `login` alias either, not even for standalone
 * use: oclif aliases are global in a host too (they come from the same manifest in both modes, and a hidden
 * alias is still an alias), so one would collide exactly where the id did: with the host's `login` winning,
 * ours is unreachable; with ours winning, the host's is. `scalingo-tcp login` is an unknown command (exit 127).
 */
export default class Login extends BaseCommand {
  static override summary = 'Log in to Scalingo with an API token.'
  static override description = `Asks for an API token (hidden input) or reads it from stdin with --api-token-stdin, checks it against the Scalingo auth service and stores it in the scalingo-tcp config directory (credentials.json, mode 0600).
Create a token at https://dashboard.scalingo.com/account/tokens. SCALINGO_API_TOKEN, when set, still takes precedence over the stored token.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    'echo "$SCALINGO_TOKEN" | <%= config.bin %> <%= command.id %> --api-token-stdin',
  ]

  static override flags = {
    'api-token-stdin': Flags.boolean({summary: 'Read the API token from stdin instead of prompting.'}),
    ...debugFlag,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Login)
    let token: string
    if (flags['api-token-stdin']) {
      token = await readTokenFromStdin(process.stdin)
    } else if (process.stdin.isTTY) {
      const {password} = await import('@inquirer/prompts')
      token = (await password({message: 'Scalingo API token', mask: false}, {output: process.stderr})).trim()
    } else {
      throw new UsageError('stdin is not a terminal, so the API token cannot be prompted for.', [
        `Pipe the token in with --api-token-stdin: \`echo "$TOKEN" | ${this.commandLine('scalingo:login')} --api-token-stdin\``,
      ])
    }

    if (!token) throw new UsageError('The API token is empty.')
    const {user, path} = await authenticate(token, {log: debugLogger(flags.debug)})
    this.info(`Logged in as ${user.username}`)
    this.info(`Token stored in ${path}`)
    if (process.env.SCALINGO_API_TOKEN)
      this.info('Note: SCALINGO_API_TOKEN is set and takes precedence over the stored token.')
  }
}
