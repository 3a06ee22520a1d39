import type {ScalingoClient} from './client.js'
import {InvalidResponseError} from './errors.js'
import type {App, User, Variable} from './types.js'

/*
 * One typed function per API call, taking the client first. Later features (addons, operations,
 * scale) add theirs here or in sibling modules following the same shape.
 */

const appPath = (app: string) => `/v1/apps/${encodeURIComponent(app)}`

export async function getApp(client: ScalingoClient, app: string): Promise<App> {
  const body = await client.get<{app: App}>(appPath(app), {names: {app}})
  return body.app
}

/** aliases=true (the API default) returns alias values raw (`$SCALINGO_MONGO_URL`); false resolves them. */
export async function listVariables(
  client: ScalingoClient,
  app: string,
  options: {aliases?: boolean} = {},
): Promise<Variable[]> {
  const body = await client.get<{variables?: Variable[]}>(`${appPath(app)}/variables`, {
    names: {app},
    searchParams: {aliases: options.aliases ?? true},
  })
  // Printing nothing and exiting 0 would tell a script the app has no variables.
  if (!Array.isArray(body?.variables))
    throw new InvalidResponseError(`The Scalingo API's list of variables of ${app} has no \`variables\` array.`, 200)
  return body.variables
}

export async function getCurrentUser(client: ScalingoClient): Promise<User> {
  const body = await client.get<{user: User}>('/v1/users/self', {service: 'auth'})
  return body.user
}
