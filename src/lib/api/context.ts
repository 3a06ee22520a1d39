import {resolveApp, type ResolvedApp, sshHostFromRemoteUrl} from './app.js'
import {ScalingoClient} from './client.js'
import {resolveRegion, type ResolvedRegion} from './regions.js'

export interface AppContext {
  client: ScalingoClient
  app: ResolvedApp
  region: ResolvedRegion
}

export interface ConnectFlags {
  app?: string
  remote?: string
  region?: string
}

/** Resolves app, region and credentials for a command that targets an app. */
export async function connectToApp(
  flags: ConnectFlags,
  options: {env?: NodeJS.ProcessEnv; cwd?: string; log?: (line: string) => void} = {},
): Promise<AppContext> {
  const env = options.env ?? process.env
  const app = resolveApp({app: flags.app, remote: flags.remote, cwd: options.cwd, env})
  const client = new ScalingoClient({env, log: options.log})
  const remoteSshHost = app.remote ? sshHostFromRemoteUrl(app.remote.url) : undefined
  const region = await resolveRegion(client, {flag: flags.region, remoteSshHost, env})
  client.useRegion(region)
  return {client, app, region}
}
