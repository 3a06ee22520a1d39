import {randomBytes} from 'node:crypto'
import {existsSync, readFileSync, renameSync, unlinkSync, writeFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

/** Written next to the Procfile while `tcp:proxy` runs, so commands run in that directory find the gateway. */
export const STATE_FILE_NAME = '.scalingo-tcp.json'

export interface GatewayState {
  pid: number
  /** The control interface, without the token. */
  url: string
  token: string
  tcpUrl: string
  app: string
  startedAt: string
  /** The scalingo-tcp version that wrote the file. */
  version: string
}

export interface FoundState {
  path: string
  /** The directory holding the state file: the app directory. */
  dir: string
  state: GatewayState
}

export interface StateFileHandle {
  path: string
  /** Removes the file if it is still ours (another gateway may have taken the directory over). */
  remove(): void
}

/**
 * Writes the state file atomically (a 0600 temp file renamed over it, so a reader never sees half
 * of it) and removes it when the process exits, whatever the way, including a crash.
 */
export function writeStateFile(dir: string, state: GatewayState): StateFileHandle {
  const path = join(dir, STATE_FILE_NAME)
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    writeFileSync(temp, JSON.stringify(state, null, 2) + '\n', {mode: 0o600, flag: 'wx'})
    renameSync(temp, path)
  } catch (error) {
    removeQuietly(temp)
    throw error
  }

  let removed = false
  const remove = () => {
    if (removed) return
    removed = true
    process.removeListener('exit', remove)
    const current = readState(path)
    if (current && current.pid === state.pid && current.token === state.token) removeQuietly(path)
  }

  process.on('exit', remove)
  return {path, remove}
}

/**
 * Looks for a live gateway's state file from `cwd` up to the root, as git looks for `.git`. A file
 * left by a gateway that is no longer running (killed with SIGKILL, machine rebooted) is removed.
 */
const APP_ROOT_MARKERS = ['Procfile', '.git']

export function findStateFile(cwd: string): FoundState | undefined {
  let dir = resolve(cwd)
  for (;;) {
    const path = join(dir, STATE_FILE_NAME)
    const state = readState(path)
    if (state) {
      if (isAlive(state.pid)) return {path, dir, state}
      removeQuietly(path)
    }

    // tcp:proxy writes the file next to the Procfile: one found above the app's root (a directory
    // with a Procfile or .git) belongs to another app.
    if (APP_ROOT_MARKERS.some((marker) => existsSync(join(dir, marker)))) return undefined
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** The parsed state file, or undefined when it is missing or not one of ours. */
export function readState(path: string): GatewayState | undefined {
  let parsed: Partial<GatewayState>
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<GatewayState>
  } catch {
    return undefined
  }

  const valid =
    parsed !== null &&
    typeof parsed === 'object' &&
    Number.isInteger(parsed.pid) &&
    (parsed.pid as number) > 0 &&
    typeof parsed.url === 'string' &&
    typeof parsed.token === 'string' &&
    typeof parsed.tcpUrl === 'string'
  return valid ? (parsed as GatewayState) : undefined
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path)
  } catch {}
}
