import {execFileSync} from 'node:child_process'
import {closeSync, existsSync, openSync, readdirSync, readFileSync, readSync} from 'node:fs'
import {open} from 'node:fs/promises'

/**
 * What Linux's /proc says about other processes: their group, their start time (to tell a process
 * from a later one that reuses its pid) and whether their environment carries a marker. Elsewhere
 * (macOS, the BSDs) there is no such public interface without native code: every function here then
 * finds nothing, and callers fall back to what process groups alone guarantee.
 */
export const HAS_PROC = process.platform === 'linux' && existsSync('/proc/self/environ')

export interface ProcInfo {
  pid: number
  ppid: number
  pgid: number
  /** Field 22 of /proc/PID/stat: clock ticks since boot. A pid reused by a later process has another one. */
  startTime: string
}

/** A live process's stat, or undefined when it is gone, unreadable or a zombie (dead, only waiting to be reaped). */
export function procInfo(pid: number): ProcInfo | undefined {
  if (!HAS_PROC) return undefined
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return undefined
  }

  // pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime
  // cstime priority nice num_threads itrealvalue starttime ...: comm may hold spaces and parentheses
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const state = fields[0]
  if (state === 'Z' || state === 'X' || state === 'x') return undefined
  return {pid, ppid: Number(fields[1]), pgid: Number(fields[2]), startTime: fields[19]}
}

/** The start time of a live process (undefined without /proc, or when it is gone). */
export function startTimeOf(pid: number): string | undefined {
  return procInfo(pid)?.startTime
}

/**
 * A process's start time as a string to compare with a later reading: /proc on Linux, else what
 * `ps -o lstart=` says (macOS, the BSDs: to the second, which is enough to tell a reused pid).
 * Undefined when the process is gone (or a zombie, on Linux) or nothing can tell.
 */
export function processStartTime(pid: number): string | undefined {
  if (HAS_PROC) return startTimeOf(pid)
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  try {
    const started = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    }).trim()
    return started || undefined
  } catch {
    return undefined
  }
}

/** Every pid in /proc (empty without /proc). */
export function allPids(): number[] {
  if (!HAS_PROC) return []
  const pids: number[] = []
  for (const entry of readdirSync('/proc'))
    if (entry.charCodeAt(0) >= 48 && entry.charCodeAt(0) <= 57) pids.push(Number(entry))
  return pids
}

/**
 * Whether the process's initial environment holds `entry` (`NAME=value`, or `NAME=prefix` when
 * `prefix`). Unreadable environments (another user's, a process that changed credentials) and
 * zombies' (empty) hold nothing. Synchronous, for the exit handler; at about 10 µs a process (one
 * open and read of a generated file) a scan of /proc costs milliseconds.
 */
export function environHas(pid: number, entry: Buffer, prefix: boolean): boolean {
  let fd: number
  try {
    fd = openSync(`/proc/${pid}/environ`, 'r')
  } catch {
    return false
  }

  try {
    return holds(
      readAll((buffer, at) => readSync(fd, buffer, at, buffer.length - at, null)),
      entry,
      prefix,
    )
  } catch {
    return false
  } finally {
    closeSync(fd)
  }
}

/** environHas without blocking the event loop (the gateway's data path) while it reads. */
export async function environHasAsync(pid: number, entry: Buffer, prefix: boolean): Promise<boolean> {
  let handle
  try {
    handle = await open(`/proc/${pid}/environ`, 'r')
  } catch {
    return false
  }

  try {
    let environ = Buffer.allocUnsafe(INITIAL_READ)
    let length = 0
    for (;;) {
      if (length === environ.length) environ = Buffer.concat([environ, Buffer.allocUnsafe(environ.length)])
      const {bytesRead} = await handle.read(environ, length, environ.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
    }

    return holds(environ.subarray(0, length), entry, prefix)
  } catch {
    return false
  } finally {
    await handle.close().catch(() => {})
  }
}

const INITIAL_READ = 16 * 1024
let shared = Buffer.allocUnsafe(INITIAL_READ)

/** Reads a whole file into the shared buffer (grown as needed): /proc files have no size to go by. */
function readAll(read: (buffer: Buffer, at: number) => number): Buffer {
  let length = 0
  for (;;) {
    if (length === shared.length) shared = Buffer.concat([shared, Buffer.allocUnsafe(shared.length)])
    const bytesRead = read(shared, length)
    if (bytesRead === 0) return shared.subarray(0, length)
    length += bytesRead
  }
}

/** Whether `environ` (NUL-separated NAME=value strings) holds `entry` as a whole string, or as the start of one. */
function holds(environ: Buffer, entry: Buffer, prefix: boolean): boolean {
  for (let at = environ.indexOf(entry); at !== -1; at = environ.indexOf(entry, at + 1)) {
    if (at > 0 && environ[at - 1] !== 0) continue
    const end = at + entry.length
    if (prefix || end === environ.length || environ[end] === 0) return true
  }

  return false
}

/** This process and its ancestors: never to be signalled, whatever their environment says. */
export function selfAndAncestors(): Set<number> {
  const chain = new Set<number>([process.pid])
  let pid = process.ppid
  while (pid > 1 && !chain.has(pid)) {
    chain.add(pid)
    pid = procInfo(pid)?.ppid ?? 0
  }

  return chain
}
