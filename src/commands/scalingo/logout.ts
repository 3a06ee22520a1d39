import {logout} from '../../lib/api/login.js'
import {BaseCommand} from '../../lib/command.js'

// `scalingo:logout`, not `logout`: see scalingo/login.ts.
export default class Logout extends BaseCommand {
  static override summary = 'Remove the API token stored by `scalingo:login`.'
  static override description =
    "Only scalingo-tcp's own stored token, and the bearer JWTs it cached (jwt-cache.json), are removed; the Scalingo CLI's login (~/.config/scalingo/auth) is left untouched."

  static override examples = ['<%= config.bin %> <%= command.id %>']

  async run(): Promise<void> {
    await this.parse(Logout)
    const {removed, path} = await logout()
    this.info(
      removed
        ? `Logged out: removed the token stored in ${path}.`
        : 'No token stored by scalingo-tcp: nothing to remove.',
    )
    this.info("The Scalingo CLI's own login, if any, is untouched (use `scalingo logout` for that).")
    if (process.env.SCALINGO_API_TOKEN)
      this.info('SCALINGO_API_TOKEN is still set in this environment and will be used.')
  }
}
