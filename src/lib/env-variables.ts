import {type ConnectFlags, connectToApp} from './api/context.js'
import {listVariables} from './api/resources.js'
import {debugLogger} from './debug-log.js'
import {type EnvVars, toEnvVars} from './env-format.js'
import {NotFoundError} from './errors.js'

/** The two sources `env` reads: the platform's variables of an app, or the local gateway's instance environment. */

/**
 * What the local gateway (tcp:proxy, in this directory or a parent) gives its `type` instances, TCP_URL included;
 * with `name`, that variable alone (NotFoundError when it is not set). `envCommand` is how the user runs `env`.
 */
export async function localVariables(name: string | undefined, type: string, envCommand: string): Promise<EnvVars> {
  // Loaded here: `env -a APP`, the common case, never needs the local gateway's client (start-up time).
  const {connectToLocalGateway} = await import('./control/client.js')
  const gateway = await connectToLocalGateway({cwd: process.cwd()})
  const vars = toEnvVars(await gateway.env(type))
  if (name === undefined) return vars
  if (!Object.hasOwn(vars, name)) {
    throw new NotFoundError(`Variable ${name} is not set in the environment of the local ${type} instances.`, [
      `List them with \`${envCommand} --local${type === 'tcp' ? '' : ` --type ${type}`}\``,
    ])
  }

  return {[name]: vars[name]}
}

/**
 * The app's variables on the platform, alias values as stored (as `scalingo env` prints them); with `name`, that
 * variable alone with its alias resolved (as `scalingo env-get`), NotFoundError when it is not set.
 */
export async function platformVariables(
  name: string | undefined,
  flags: ConnectFlags & {debug?: boolean},
  envCommand: string,
): Promise<EnvVars> {
  const {client, app, region} = await connectToApp(flags, {log: debugLogger(flags.debug)})
  if (!name) return toEnvVars(await listVariables(client, app.name, {aliases: true}))
  const found = (await listVariables(client, app.name, {aliases: false})).find((v) => v.name === name)
  if (!found) {
    throw new NotFoundError(`Variable ${name} is not set on app ${app.name} (region ${region.name}).`, [
      `List the app's variables with \`${envCommand} -a ${app.name}\``,
    ])
  }

  return {[found.name]: found.value}
}
