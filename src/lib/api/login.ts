import {credentialsPath} from '../config-dir.js'
import {registerSecret} from '../secrets.js'
import {ScalingoClient} from './client.js'
import {removeStoredToken, storeToken} from './credentials.js'
import {removeJwtCache} from './jwt-store.js'
import {authHost} from './regions.js'
import {getCurrentUser} from './resources.js'
import type {User} from './types.js'

/** Reads the whole of stdin and returns it trimmed (a token piped with `echo` ends with a newline). */
export async function readTokenFromStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  let data = ''
  stdin.setEncoding('utf8')
  for await (const chunk of stdin) data += chunk
  const token = data.trim()
  registerSecret(token)
  return token
}

/** Checks the token (exchange + GET /v1/users/self on the auth service) and, only if it works, stores it. */
export async function authenticate(
  token: string,
  options: {env?: NodeJS.ProcessEnv; log?: (line: string) => void} = {},
): Promise<{user: User; path: string}> {
  const env = options.env ?? process.env
  registerSecret(token)
  const client = new ScalingoClient({
    env,
    log: options.log,
    // The exchange is what proves the token works: never skip it with a cached JWT, but keep the one it gives.
    jwtCache: 'write-only',
    apiToken: async () => ({token, source: 'login', origin: 'the login prompt'}),
  })
  const user = await getCurrentUser(client)
  const path = await storeToken(authHost(env), token, user.username, env)
  return {user, path}
}

/** Removes our stored token and the JWT cache (every JWT in it, whichever token it came from). */
export async function logout(env: NodeJS.ProcessEnv = process.env): Promise<{removed: boolean; path: string}> {
  await removeJwtCache(env)
  const removed = await removeStoredToken(authHost(env), env)
  return {removed, path: credentialsPath(env)}
}
