import {createHash} from 'node:crypto'
import {closeSync, constants, fstatSync, openSync, readFileSync} from 'node:fs'
import {chmod, mkdir, rename, rm, writeFile} from 'node:fs/promises'
import {dirname} from 'node:path'

import {jwtCachePath} from '../config-dir.js'
import {CliError} from '../errors.js'
import {jwtExpiry, REFRESH_MARGIN_MS} from './token-exchange.js'

/*
 * The bearer JWT kept on disk between commands, so that a command does not pay the token exchange (one HTTPS
 * round trip to the auth service, 50-150 ms) when an earlier one already did it less than an hour ago.
 *
 * - Where: jwt-cache.json in configDir() (beside credentials.json), written like it: a temp file created 0600
 *   (flag 'wx'), then renamed over the old one, in a 0700 directory.
 * - What: {"entries": {<key>: {"jwt", "exp"}}}, the key being sha256(authUrl + '\n' + apiToken) in hex, so the
 *   file never holds an API token, a JWT is only ever used with the token (and auth service) it came from, and
 *   logging in with another token, or pointing SCALINGO_AUTH_URL elsewhere, never picks up someone else's JWT.
 * - When: a cached JWT is used only while its exp is more than REFRESH_MARGIN_MS away; otherwise, and when the
 *   platform refuses it (401: revoked, signed with a rotated key), the client exchanges the token again and
 *   overwrites the entry. Expired entries are dropped whenever the file is written.
 * - Never in the way: a missing, unreadable, corrupt, foreign-owned or group/world-readable file counts as
 *   empty (a loose one is then replaced by a 0600 one on the next write), and failing to write is ignored.
 * - `logout` removes the file; SCALINGO_TCP_NO_JWT_CACHE=1 neither reads nor writes it.
 *
 * Reading is on every command's path, so it is one open, fstat and read of a small file, done synchronously
 * (no stat before the open: the mode is checked on the open descriptor). Writing only follows an exchange.
 */

export interface CachedJwt {
  jwt: string
  /** Seconds since the epoch, from the JWT's own exp. */
  exp: number
}

export interface JwtCacheFile {
  entries: Record<string, CachedJwt>
  /** Why the file on disk was not used, for --debug (undefined when it was read, or is simply absent). */
  ignored?: string
}

export function jwtCacheDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.SCALINGO_TCP_NO_JWT_CACHE?.trim().toLowerCase()
  return Boolean(value) && value !== '0' && value !== 'false'
}

export function jwtCacheKey(authUrl: string, apiToken: string): string {
  return createHash('sha256').update(`${authUrl}\n${apiToken}`).digest('hex')
}

function validEntries(data: unknown): Record<string, CachedJwt> {
  const entries: Record<string, CachedJwt> = {}
  const raw = (data as {entries?: unknown})?.entries
  if (!raw || typeof raw !== 'object') return entries
  for (const [key, value] of Object.entries(raw)) {
    const {jwt, exp} = (value ?? {}) as Partial<CachedJwt>
    if (typeof jwt === 'string' && typeof exp === 'number') entries[key] = {jwt, exp}
  }

  return entries
}

/** The entries of the cache file at `path`; never throws. */
export function readJwtCache(path: string): JwtCacheFile {
  let fd: number
  try {
    // O_NONBLOCK: something that is not a regular file (a FIFO) must not hang the command; fstat rejects it below.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return {entries: {}, ignored: code === 'ENOENT' ? undefined : `cannot open it (${code})`}
  }

  try {
    const stats = fstatSync(fd)
    if (!stats.isFile()) return {entries: {}, ignored: 'not a regular file'}
    if (process.platform !== 'win32') {
      // Another user could have planted JWTs there, or can read ours: trust and use neither.
      if ((stats.mode & 0o077) !== 0)
        return {entries: {}, ignored: `readable by other users (mode ${(stats.mode & 0o777).toString(8)})`}
      if (process.getuid && stats.uid !== process.getuid()) return {entries: {}, ignored: 'owned by another user'}
    }

    return {entries: validEntries(JSON.parse(readFileSync(fd, 'utf8')))}
  } catch {
    return {entries: {}, ignored: 'not valid JSON'}
  } finally {
    closeSync(fd)
  }
}

/** The JWT cached for `key` if it stays valid for more than REFRESH_MARGIN_MS. */
export function cachedJwt(file: JwtCacheFile, key: string, now: number = Date.now()): CachedJwt | undefined {
  const entry = file.entries[key]
  return entry && entry.exp * 1000 - now > REFRESH_MARGIN_MS ? entry : undefined
}

/**
 * Stores `jwt` under `key` and drops the expired entries. A JWT without a readable exp is not stored: we could
 * not tell when to stop using it. Throws on I/O errors; the client ignores them (the cache is an optimisation).
 */
export async function saveJwt(path: string, key: string, jwt: string, now: number = Date.now()): Promise<boolean> {
  const exp = jwtExpiry(jwt)
  if (exp === undefined) return false
  const entries: Record<string, CachedJwt> = {}
  for (const [k, entry] of Object.entries(readJwtCache(path).entries)) if (entry.exp * 1000 > now) entries[k] = entry
  entries[key] = {jwt, exp}

  await mkdir(dirname(path), {recursive: true, mode: 0o700})
  await chmod(dirname(path), 0o700)
  const temp = `${path}.${process.pid}.tmp`
  await rm(temp, {force: true})
  await writeFile(temp, JSON.stringify({entries}) + '\n', {mode: 0o600, flag: 'wx'})
  await rename(temp, path)
  return true
}

/** Removes the cache file (`logout`); returns whether there was one. */
export async function removeJwtCache(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const path = jwtCachePath(env)
  try {
    await rm(path)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return false
    throw new CliError(`Could not remove the JWT cache ${path} (${code ?? (error as Error).message}).`, {
      code: 'JWT_CACHE_NOT_REMOVED',
      suggestions: [`Remove it by hand: rm -rf '${path}'`],
    })
  }
}
