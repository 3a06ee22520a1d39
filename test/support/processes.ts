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

/**
 * Polls (there is no event for another process's reaping) until kill(pid, 0) fails with ESRCH.
 * Dead processes stay visible as zombies until init reaps them, which can take a couple of seconds
 * in some containers.
 */
export async function waitUntilGone(pid: number, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (exists(pid)) {
    if (Date.now() > deadline) throw new Error(`process (group) ${pid} still exists after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Polls until no live member is left in the group (a SIGKILLed process takes a moment to die). */
export async function waitUntilNoLiveMembers(pgid: number, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (liveGroupMembers(pgid).length > 0) {
    if (Date.now() > deadline)
      throw new Error(`process group ${pgid} still has live members: ${liveGroupMembers(pgid).join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** SIGKILLs the process group of every instance a tcp:proxy reported starting (what a killed proxy may leave). */
export function killInstanceGroups(events: Array<{event: string; pid?: number}>): void {
  for (const e of events) {
    if (e.event !== 'instance-starting' || !e.pid) continue
    try {
      process.kill(-e.pid, 'SIGKILL')
    } catch {
      // already gone
    }
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
export async function waitUntilDead(pids: number[], timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (pids.some((pid) => isLive(pid))) {
    if (Date.now() > deadline)
      throw new Error(`still running after ${timeoutMs} ms: ${pids.filter((pid) => isLive(pid)).join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
