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
  '!', '.', ':', 'alias', 'bg', 'break', 'case', 'cd', 'command', 'continue', 'do', 'done', 'elif', 'else',
  'esac', 'eval', 'exec', 'exit', 'export', 'fg', 'fi', 'for', 'getopts', 'hash', 'if', 'jobs', 'read',
  'readonly', 'return', 'set', 'shift', 'source', 'then', 'times', 'trap', 'type', 'ulimit', 'umask',
  'unalias', 'unset', 'until', 'wait', 'while',
])
