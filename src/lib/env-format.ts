/** Formatting of app variables, shared by every source of variables (the API today, a local file later). */

export type EnvFormat = 'lines' | 'shell'

export type EnvVars = Record<string, string>

/** Sorted by name (code-point order, so the output is the same everywhere). */
export function sortedEntries(vars: EnvVars): Array<[string, string]> {
  return Object.entries(vars).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** POSIX single quoting: everything is literal inside '...' except ', written as '\'' */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`
}

/**
 * A name a POSIX shell can hold (`[A-Za-z_][A-Za-z0-9_]*`). Any other name in `export NAME=...`
 * is shell syntax under `eval`: `X;touch pwned;Y` runs a command, and an exported bash function
 * (`BASH_FUNC_f%%`, which the local gateway inherits from its parent's environment) is an error.
 */
export function isShellName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
}

/** `export NAME='value'` lines for `eval`, for the variables a shell can hold; `skipped` counts the others. */
export function formatShellEnv(vars: EnvVars): {text: string; skipped: number} {
  let text = ''
  let skipped = 0
  for (const [name, value] of sortedEntries(vars)) {
    if (isShellName(name)) text += `export ${name}=${shellQuote(value)}\n`
    else skipped++
  }

  return {text, skipped}
}

/** The warning for the variables --shell left out: under `eval`, a name that is not a shell identifier is code. */
export function shellSkippedWarning(skipped: number): string {
  const one = skipped === 1
  return `${skipped} variable${one ? ' was' : 's were'} left out of --shell: ${one ? 'its name is' : 'their names are'} not a shell identifier ([A-Za-z_][A-Za-z0-9_]*), so \`eval\` would run ${one ? 'it' : 'them'} as code. See every variable with --json.`
}

/** `NAME=value` lines (as `scalingo env` prints them) or `export NAME='value'` lines for `eval` (shell names only). */
export function formatEnv(vars: EnvVars, format: EnvFormat): string {
  if (format === 'shell') return formatShellEnv(vars).text
  return sortedEntries(vars)
    .map(([name, value]) => `${name}=${value}\n`)
    .join('')
}

/** Without a prototype: a variable named `__proto__` is a variable like any other. */
export function toEnvVars(variables: Array<{name: string; value: string}>): EnvVars {
  const vars: EnvVars = Object.create(null) as EnvVars
  for (const {name, value} of variables) vars[name] = value
  return vars
}
