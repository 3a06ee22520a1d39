/**
 * The script given to `/bin/sh -c` for a Procfile command. A simple command (one program and its
 * arguments, maybe with redirections) is prefixed with `exec`, so the shell hands its process over to
 * the program: the program leads the process group, gets signals first and reports its own exit code,
 * as foreman does by running such commands without a shell. Anything the shell itself must run (lists,
 * pipes, background jobs, subshells, leading assignments, builtins and reserved words) is left as it is.
 */
export function shellScript(command: string): string {
  const trimmed = command.trim()
  if (/[;&|\n(){}`]/.test(trimmed)) return command
  const first = trimmed.split(/\s+/, 1)[0]
  if (first === '' || first.includes('=') || SHELL_OWN.has(first)) return command
  return `exec ${trimmed}`
}

/** Reserved words and builtins that only make sense inside the shell (`exec cd` would fail). */
const SHELL_OWN = new Set([
  '!',
  '.',
  ':',
  'alias',
  'bg',
  'break',
  'case',
  'cd',
  'command',
  'continue',
  'do',
  'done',
  'elif',
  'else',
  'esac',
  'eval',
  'exec',
  'exit',
  'export',
  'fg',
  'fi',
  'for',
  'getopts',
  'hash',
  'if',
  'jobs',
  'read',
  'readonly',
  'return',
  'set',
  'shift',
  'source',
  'then',
  'times',
  'trap',
  'type',
  'ulimit',
  'umask',
  'unalias',
  'unset',
  'until',
  'wait',
  'while',
])

/** How long the watchdog gives an instance between SIGTERM and SIGKILL once the gateway is gone. */
export const ORPHAN_GRACE_SECONDS = 1

/**
 * Put before every instance's script: a watchdog for when the gateway dies without stopping its
 * instances (SIGKILL, the OOM killer, a crash that skipped the exit handlers). The gateway holds the
 * only other end of the pipe on fd 3, so the kernel closes it when the gateway dies however it dies;
 * the watchdog reads fd 3 until that end of file, then sends SIGTERM to its process group (the
 * instance's: `kill 0`) and SIGKILL a second later. It ignores SIGTERM and SIGHUP itself, so it also
 * covers a gateway killed during a graceful stop; the supervisor SIGKILLs it with the rest of the
 * group when the instance ends. It runs in a subshell that exits at once, so it is not a child of the
 * instance's shell (a `wait` in the Procfile command does not wait for it), holds none of the output
 * pipes (the gateway's end of output is never held up by it), and fd 3 is closed before the command
 * runs. One line, so the shell's error messages keep the command's own line numbers. POSIX sh only:
 * the same on every Unix.
 */
const WATCHDOG = `(trap '' TERM HUP; { while read -r _; do :; done; kill -TERM 0; sleep ${ORPHAN_GRACE_SECONDS}; kill -KILL 0; } <&3 >/dev/null 2>&1 &); exec 3<&-; `

/** The whole script an instance's `/bin/sh -c` runs: the watchdog, then the Procfile command (shellScript). */
export function instanceScript(command: string): string {
  return WATCHDOG + shellScript(command)
}
