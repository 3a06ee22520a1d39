import {allPids, environHas, environHasAsync, HAS_PROC, type ProcInfo, procInfo, selfAndAncestors} from './proc.js'

/**
 * Set in every instance's environment by the supervisor: `<gateway pid>:<random>:<n>`, n numbering the
 * instances a gateway starts. A process that leaves its instance's process group (setsid, a double
 * fork, a daemon) keeps it, and so do its children: on Linux, /proc/PID/environ finds them all. Where
 * this stops: a process that execs with a cleaned environment (`env -i`), one that changes user (its
 * environ is no longer readable), and systems without /proc.
 */
export const MARKER_VARIABLE = 'SCALINGO_TCP_PROXY_INSTANCE'

const POLL_MS = 50
/** How long SIGKILLed processes get to disappear before we stop waiting (one stuck in the kernel may take long). */
const KILL_WAIT_MS = 2000

/** A recorded process group: its id is its leader's pid, told from a reused one by the leader's start time. */
export interface GroupRecord {
  pgid: number
  startTime?: string
}

const entryOf = (marker: string) => Buffer.from(`${MARKER_VARIABLE}=${marker}`)

/**
 * Live processes whose environment carries `marker`: exactly (one instance's `<gateway>:<n>`) or, with
 * `prefix`, any instance of a gateway (`<gateway>:`). Never this process nor its ancestors. Empty
 * without /proc.
 */
export function markedProcesses(marker: string, prefix: boolean): ProcInfo[] {
  if (!HAS_PROC) return []
  const entry = entryOf(marker)
  const spared = selfAndAncestors()
  const found: ProcInfo[] = []
  for (const pid of allPids()) {
    if (spared.has(pid) || !environHas(pid, entry, prefix)) continue
    const info = procInfo(pid)
    if (info) found.push(info)
  }

  return found
}

/** markedProcesses without blocking the event loop while /proc is read (what an instance's stop and exit use). */
export async function markedProcessesAsync(marker: string, prefix: boolean): Promise<ProcInfo[]> {
  if (!HAS_PROC) return []
  const entry = entryOf(marker)
  const spared = selfAndAncestors()
  const pids = allPids().filter((pid) => !spared.has(pid))
  const found: ProcInfo[] = []
  // a few reads at a time: enough to keep libuv's thread pool busy, not enough to crowd it
  for (let i = 0; i < pids.length; i += 8) {
    const batch = pids.slice(i, i + 8)
    const marked = await Promise.all(batch.map((pid) => environHasAsync(pid, entry, prefix)))
    for (const [j, pid] of batch.entries()) {
      const info = marked[j] ? procInfo(pid) : undefined
      if (info) found.push(info)
    }
  }

  return found
}

/**
 * What a gateway that is gone left running: every process carrying its marker, and every member of
 * its recorded groups whose leader is still the process recorded (same start time: never a reused
 * pid). Empty without /proc: nothing can be verified there.
 */
export function leftoversOf(gatewayMarker: string | undefined, groups: GroupRecord[]): ProcInfo[] {
  if (!HAS_PROC) return []
  const entry = gatewayMarker ? entryOf(`${gatewayMarker}:`) : undefined
  const verifiedGroups = new Set<number>()
  for (const group of groups) {
    const leader = procInfo(group.pgid)
    if (group.startTime && leader && leader.startTime === group.startTime && leader.pgid === group.pgid)
      verifiedGroups.add(group.pgid)
  }

  const spared = selfAndAncestors()
  const found: ProcInfo[] = []
  for (const pid of allPids()) {
    if (spared.has(pid)) continue
    const info = procInfo(pid)
    if (!info) continue
    if (verifiedGroups.has(info.pgid) || (entry && environHas(pid, entry, true))) found.push(info)
  }

  return found
}

/**
 * Sends `signal` to each process still the one found (same start time: a pid reused since is left
 * alone). Gone or not ours (EPERM): skipped.
 */
export function signalProcesses(processes: ProcInfo[], signal: NodeJS.Signals): void {
  for (const found of processes) {
    if (procInfo(found.pid)?.startTime !== found.startTime) continue
    try {
      process.kill(found.pid, signal)
    } catch {
      // exited between the check and the signal
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * SIGTERM to what `find` returns (again to whatever it finds later, a child forked meanwhile), SIGKILL
 * to what is left after graceMs, then waits (bounded) until `find` returns nothing. Polls: there is no
 * event for the end of a process that is not our child. Resolves with how many processes were found.
 */
export async function terminateProcesses(
  find: () => ProcInfo[] | Promise<ProcInfo[]>,
  graceMs: number,
): Promise<number> {
  const seen = new Set<string>()
  const key = (p: ProcInfo) => `${p.pid}/${p.startTime}`
  const signalNew = (processes: ProcInfo[], signal: NodeJS.Signals) => {
    const fresh = processes.filter((p) => !seen.has(key(p)))
    for (const p of fresh) seen.add(key(p))
    signalProcesses(fresh, signal)
  }

  let left = await find()
  const termDeadline = Date.now() + graceMs
  while (left.length > 0 && Date.now() < termDeadline) {
    signalNew(left, 'SIGTERM')
    await sleep(Math.min(POLL_MS, Math.max(1, termDeadline - Date.now())))
    left = await find()
  }

  const killDeadline = Date.now() + KILL_WAIT_MS
  while (left.length > 0 && Date.now() < killDeadline) {
    for (const p of left) seen.add(key(p))
    signalProcesses(left, 'SIGKILL')
    await sleep(POLL_MS / 5)
    left = await find()
  }

  return seen.size
}
