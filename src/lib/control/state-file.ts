import {randomBytes} from 'node:crypto'
import {existsSync, linkSync, readFileSync, renameSync, unlinkSync, writeFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {type ClaimState, type GatewayState, type GroupRecord, STATE_FILE_NAME} from '../contract.js'
import {processStartTime} from '../supervisor/proc.js'
import {leftoversOf} from '../supervisor/strays.js'

/**
 * Written next to the Procfile while `tcp:proxy` runs, so commands run in that directory find the
 * gateway. It is also the gateway's claim on the directory: written before anything starts (a second
 * tcp:proxy there refuses to run) and kept up to date with the process groups of its instances, so
 * that what a killed gateway left behind can be found and stopped by the next one. Its name and shape are
 * in the contract (contract.ts); reading, writing and claiming it are here.
 */

/** A live gateway's state file, found from a directory. */
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
  writeAtomically(path, state, 'replace')
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
 * Writes `state` to `path` through a 0600 temp file: renamed over whatever is there ('replace'), or
 * hard-linked only if nothing is ('create', atomic: EEXIST when another process got there first).
 */
function writeAtomically(path: string, state: ClaimState, mode: 'replace' | 'create'): void {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    writeFileSync(temp, JSON.stringify(state, null, 2) + '\n', {mode: 0o600, flag: 'wx'})
    if (mode === 'replace') renameSync(temp, path)
    else linkSync(temp, path)
  } finally {
    removeQuietly(temp)
  }
}

const sameClaim = (a: ClaimState | undefined, b: ClaimState | undefined) =>
  a !== undefined &&
  b !== undefined &&
  a.pid === b.pid &&
  a.startedAt === b.startedAt &&
  a.marker === b.marker &&
  a.token === b.token

/**
 * This gateway's claim on its directory: the state file from start-up to exit. Every write checks that
 * the file is still ours first (the user may have removed it: it is written again; another gateway
 * may own it now: it is left alone). Removed at exit however the process ends, like writeStateFile.
 */
export class DirectoryClaim {
  readonly path: string
  private state: ClaimState
  private removed = false
  private readonly onExit = () => this.remove()

  /** Claims the directory: throws EEXIST when a state file appeared since `previous` was read. */
  constructor(dir: string, state: ClaimState, previous: ClaimState | undefined) {
    this.path = join(dir, STATE_FILE_NAME)
    this.state = state
    if (previous) {
      // replace the stale file only if it is still the one judged stale (not one a concurrent start wrote since)
      if (!sameClaim(readClaim(this.path), previous))
        throw Object.assign(new Error('state file changed'), {code: 'EEXIST'})
      writeAtomically(this.path, state, 'replace')
    } else {
      writeAtomically(this.path, state, 'create')
    }

    process.on('exit', this.onExit)
  }

  /** The process groups of the live instances, for the next gateway to reap should this one be killed. */
  recordGroups(groups: GroupRecord[]): void {
    this.update({groups})
  }

  /** How to reach the gateway: from now on the --local commands find it. Throws when the file cannot be written. */
  publish(fields: Pick<GatewayState, 'url' | 'token' | 'tcpUrl' | 'version'>): void {
    this.update(fields, true)
  }

  remove(): void {
    if (this.removed) return
    this.removed = true
    process.removeListener('exit', this.onExit)
    if (sameClaim(readClaim(this.path), this.state)) removeQuietly(this.path)
  }

  private update(fields: Partial<GatewayState>, rethrow = false): void {
    if (this.removed) return
    const current = readClaim(this.path)
    if (current && !sameClaim(current, this.state)) return
    const next = {...this.state, ...fields}
    try {
      writeAtomically(this.path, next, current ? 'replace' : 'create')
      this.state = next
    } catch (error) {
      if (rethrow) throw error
    }
  }
}

/**
 * Whether the gateway that wrote `state` still runs: its pid is alive with the start time recorded
 * (never a later process reusing the pid). A file without a start time (written by an older version,
 * or where no start time can be read) counts only if it is a complete state file whose pid is alive.
 */
export function gatewayRunning(state: ClaimState): boolean {
  if (!isAlive(state.pid)) return false
  if (state.startTime !== undefined) return processStartTime(state.pid) === state.startTime
  return typeof state.url === 'string' && typeof state.token === 'string' && typeof state.tcpUrl === 'string'
}

/**
 * Looks for a live gateway's state file from `cwd` up to the root, as git looks for `.git`. A file
 * left by a gateway that is no longer running (killed with SIGKILL, machine rebooted) is removed,
 * unless processes it started are still running: then it is left for the next tcp:proxy in that
 * directory, which stops them.
 */
const APP_ROOT_MARKERS = ['Procfile', '.git']

export function findStateFile(cwd: string): FoundState | undefined {
  let dir = resolve(cwd)
  for (;;) {
    const path = join(dir, STATE_FILE_NAME)
    const claim = readClaim(path)
    if (claim && !gatewayRunning(claim)) {
      if (leftoversOf(claim.marker, claim.groups ?? []).length === 0) removeQuietly(path)
    } else {
      const state = readState(path)
      if (state) return {path, dir, state}
    }

    // tcp:proxy writes the file next to the Procfile: one found above the app's root (a directory
    // with a Procfile or .git) belongs to another app.
    if (APP_ROOT_MARKERS.some((marker) => existsSync(join(dir, marker)))) return undefined
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** The parsed state file of a gateway that listens, or undefined when it is missing, not one of ours, or its gateway is still starting. */
export function readState(path: string): GatewayState | undefined {
  const parsed = readClaim(path)
  const valid =
    parsed !== undefined &&
    typeof parsed.url === 'string' &&
    typeof parsed.token === 'string' &&
    typeof parsed.tcpUrl === 'string'
  return valid ? (parsed as GatewayState) : undefined
}

/** The parsed state file from the moment a gateway claims the directory (url, token, tcpUrl may be missing), or undefined. */
export function readClaim(path: string): ClaimState | undefined {
  let parsed: Partial<ClaimState>
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<ClaimState>
  } catch {
    return undefined
  }

  if (parsed === null || typeof parsed !== 'object' || !Number.isInteger(parsed.pid) || (parsed.pid as number) <= 0)
    return undefined
  // what the reaping relies on is checked; anything malformed there is dropped, never trusted
  const claim = {...parsed} as ClaimState
  if (typeof claim.startTime !== 'string') delete claim.startTime
  if (typeof claim.marker !== 'string' || !/^\d+:[0-9a-f]+$/.test(claim.marker)) delete claim.marker
  if (Array.isArray(claim.groups)) {
    claim.groups = claim.groups.filter(
      (g) =>
        g !== null &&
        typeof g === 'object' &&
        Number.isInteger(g.pgid) &&
        g.pgid > 1 &&
        (g.startTime === undefined || typeof g.startTime === 'string'),
    )
  } else delete claim.groups
  return claim
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
  } catch {
    // already gone: nothing to remove
  }
}
