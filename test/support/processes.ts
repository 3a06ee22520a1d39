import {readdirSync, readFileSync} from 'node:fs'

/** Members of a process group that are still alive (zombies waiting for init to reap them count as dead). */
export function liveGroupMembers(pgid: number): number[] {
  const members: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue
    }

    // pid (comm) state ppid pgrp ...: comm may contain spaces and parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') members.push(Number(entry))
  }

  return members
}

export function exists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}

/** Polls (no event exists for another process's resource use) until check() holds, or fails clearly. */
export async function pollUntil(
  check: () => boolean,
  what: () => string,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/**
 * Polls (there is no event for another process's reaping) until kill(pid, 0) fails with ESRCH.
 * Dead processes stay visible as zombies until init reaps them, which can take a couple of seconds
 * in some containers.
 */
export function waitUntilGone(pid: number, timeoutMs = 8000): Promise<void> {
  return pollUntil(
    () => !exists(pid),
    () => `process (group) ${pid} to be gone`,
    timeoutMs,
    20,
  )
}

/** Polls until no live member is left in the group (a SIGKILLed process takes a moment to die). */
export function waitUntilNoLiveMembers(pgid: number, timeoutMs = 2000): Promise<void> {
  return pollUntil(
    () => liveGroupMembers(pgid).length === 0,
    () => `process group ${pgid} to have no live member (still: ${liveGroupMembers(pgid).join(', ')})`,
    timeoutMs,
    10,
  )
}

/** SIGKILLs a process group; one already gone is fine. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** SIGKILLs the process group of every instance a tcp:proxy reported starting (what a killed proxy may leave). */
export function killInstanceGroups(events: Array<{event: string; pid?: number}>): void {
  for (const e of events) {
    if (e.event === 'instance-starting' && e.pid) killGroup(e.pid)
  }
}

/** Whether the process runs (a zombie waiting for init to reap it is dead). */
export function isLive(pid: number): boolean {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return false
  }

  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  return state !== 'Z' && state !== 'X'
}

/** Polls (there is no event for the end of a process that is not our child) until none of `pids` is live. */
export function waitUntilDead(pids: number[], timeoutMs = 5000): Promise<void> {
  return pollUntil(
    () => !pids.some((pid) => isLive(pid)),
    () => `${pids.join(', ')} to end (still running: ${pids.filter((pid) => isLive(pid)).join(', ')})`,
    timeoutMs,
    20,
  )
}

/** Resident memory of a process, in KiB (from /proc/<pid>/status); NaN when the kernel shows none. */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) : Number.NaN
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}
