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

/** `NAME=value` lines (as `scalingo env` prints them) or `export NAME='value'` lines for `eval`. */
export function formatEnv(vars: EnvVars, format: EnvFormat): string {
  return sortedEntries(vars)
    .map(([name, value]) => (format === 'shell' ? `export ${name}=${shellQuote(value)}` : `${name}=${value}`) + '\n')
    .join('')
}

export function toEnvVars(variables: Array<{name: string; value: string}>): EnvVars {
  const vars: EnvVars = {}
  for (const {name, value} of variables) vars[name] = value
  return vars
}
