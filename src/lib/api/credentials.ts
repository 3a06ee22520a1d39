import {chmod, mkdir, readFile, rename, rm, stat, writeFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'

import {commandRef} from '../command-line.js'
import {credentialsPath} from '../config-dir.js'
import {CliError, ExitCode} from '../errors.js'
import {registerSecret} from '../secrets.js'
import {AuthenticationError} from './errors.js'
import {authHost} from './regions.js'

export type TokenSource = 'env' | 'login' | 'scalingo-cli'

export interface ResolvedToken {
  token: string
  source: TokenSource
  /** Human description used in error messages ("SCALINGO_API_TOKEN", a file path...). */
  origin: string
}

interface StoredCredentials {
  tokens: Record<string, {token: string; username?: string; stored_at?: string}>
}

/**
 * The API token, in order: SCALINGO_API_TOKEN, the token stored by our `scalingo:login` (per auth host),
 * then the Scalingo CLI's own auth file (read-only: that file belongs to the Scalingo CLI).
 */
export async function resolveApiToken(env: NodeJS.ProcessEnv = process.env): Promise<ResolvedToken> {
  const fromEnv = env.SCALINGO_API_TOKEN?.trim()
  if (fromEnv) {
    registerSecret(fromEnv)
    return {token: fromEnv, source: 'env', origin: 'SCALINGO_API_TOKEN'}
  }

  const host = authHost(env)
  const stored = await readStoredToken(host, env)
  if (stored) return {token: stored, source: 'login', origin: credentialsPath(env)}

  const cliToken = await readScalingoCliToken(host, env)
  if (cliToken) return {token: cliToken.token, source: 'scalingo-cli', origin: cliToken.path}

  throw new AuthenticationError('Not logged in: no Scalingo API token found.', undefined, [
    `Run \`${commandRef('scalingo:login')}\` (or \`scalingo login\`) to log in`,
    'Or set SCALINGO_API_TOKEN to an API token (tk-us-...) created at https://dashboard.scalingo.com/account/tokens',
  ])
}

async function readStoredCredentials(env: NodeJS.ProcessEnv): Promise<StoredCredentials | undefined> {
  const path = credentialsPath(env)
  let mode: number
  try {
    mode = (await stat(path)).mode
  } catch {
    return undefined
  }

  // A token readable by other users is a leaked token: refuse it rather than use it silently.
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new CliError(`Refusing to use ${path}: it is readable by other users (mode ${(mode & 0o777).toString(8)}).`, {
      exitCode: ExitCode.Auth,
      code: 'INSECURE_CREDENTIALS',
      suggestions: [`Run \`chmod 600 ${path}\``, `Or log in again with \`${commandRef('scalingo:login')}\``],
    })
  }

  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as StoredCredentials
    return parsed && typeof parsed.tokens === 'object' ? parsed : {tokens: {}}
  } catch {
    throw new CliError(`${path} is not valid JSON.`, {
      exitCode: ExitCode.Auth,
      code: 'INVALID_CREDENTIALS',
      suggestions: [`Run \`${commandRef('scalingo:logout')}\` then \`${commandRef('scalingo:login')}\``],
    })
  }
}

export async function readStoredToken(host: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const token = (await readStoredCredentials(env))?.tokens[host]?.token
  registerSecret(token)
  return token || undefined
}

/** Writes credentials.json with mode 0600 inside a 0700 directory. */
export async function storeToken(
  host: string,
  token: string,
  username: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const path = credentialsPath(env)
  await mkdir(dirname(path), {recursive: true, mode: 0o700})
  await chmod(dirname(path), 0o700)
  const current = (await readStoredCredentials(env).catch(() => undefined)) ?? {tokens: {}}
  current.tokens[host] = {token, username, stored_at: new Date().toISOString()}
  await writeCredentials(path, current)
  return path
}

/**
 * Replaces the file in one step: a temp file created 0600, then renamed over it. An existing file
 * with a looser mode never holds the new token, and a crash never leaves half a JSON document.
 */
async function writeCredentials(path: string, credentials: StoredCredentials): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`
  await rm(temp, {force: true})
  await writeFile(temp, JSON.stringify(credentials, null, 2) + '\n', {mode: 0o600, flag: 'wx'})
  await rename(temp, path)
}

/** Removes our token for `host`; returns whether one was stored. Never touches the Scalingo CLI's file. */
export async function removeStoredToken(host: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const path = credentialsPath(env)
  let current: StoredCredentials | undefined
  try {
    current = await readStoredCredentials(env)
  } catch {
    // An insecure or corrupt file is exactly what logout should get rid of.
    await rm(path, {force: true})
    return true
  }

  if (!current?.tokens[host]) return false
  delete current.tokens[host]
  if (Object.keys(current.tokens).length === 0) await rm(path, {force: true})
  else await writeCredentials(path, current)
  return true
}

/** The Scalingo CLI's auth file: $AUTH_FILE, else $CONFIG_DIR/auth, else ~/.config/scalingo/auth. */
export function scalingoCliAuthPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AUTH_FILE) return env.AUTH_FILE
  const dir = env.CONFIG_DIR || join(env.HOME || homedir(), '.config', 'scalingo')
  return join(dir, 'auth')
}

export async function readScalingoCliToken(
  host: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{token: string; path: string} | undefined> {
  const path = scalingoCliAuthPath(env)
  let raw: string
  try {
    raw = await readFile(path, 'utf8')
  } catch {
    return undefined
  }

  try {
    const data = JSON.parse(raw) as {auth_config_data?: Record<string, {tokens?: {token?: string}; user?: unknown}>}
    const entry = data.auth_config_data?.[host]
    // The Scalingo CLI counts an entry as logged in only when both user and tokens are present.
    const token = entry?.user ? entry.tokens?.token : undefined
    registerSecret(token)
    return token ? {token, path} : undefined
  } catch {
    return undefined
  }
}
