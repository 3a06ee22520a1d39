import {CliError, ExitCode, UsageError} from '../errors.js'
import type {Procfile} from './procfile.js'
import {quote} from './procfile.js'

export const MAX_INSTANCES_PER_TYPE = 100

export interface FormationEntry {
  type: string
  command: string
  count: number
}

const FORMATION_HINT =
  'Use type=count pairs separated by commas, e.g. `tcp=2,web=1` (also `tcp:2`; `all=N` for every type).'

/**
 * Parses `tcp=2,web=1` (or `tcp:2`). The key `all` is kept as is: it sets the count of every type
 * not named explicitly (see resolveFormation).
 */
export function parseFormation(spec: string): Map<string, number> {
  if (spec.trim() === '') throw new UsageError('The formation is empty.', [FORMATION_HINT])
  const formation = new Map<string, number>()
  for (const rawPart of spec.split(',')) {
    const part = rawPart.trim()
    const match = /^([A-Za-z0-9_-]+)\s*[=:]\s*(\S+)$/.exec(part)
    if (!match) {
      throw new UsageError(`Invalid formation entry ${quote(part)} in ${quote(spec)}: expected type=count.`, [
        FORMATION_HINT,
      ])
    }

    const [, type, countText] = match
    if (!/^\d+$/.test(countText) || Number(countText) > MAX_INSTANCES_PER_TYPE) {
      throw new UsageError(
        `Invalid count ${quote(countText)} for "${type}" in the formation: use a whole number from 0 to ${MAX_INSTANCES_PER_TYPE}.`,
        [FORMATION_HINT],
      )
    }

    if (formation.has(type))
      throw new UsageError(`"${type}" appears twice in the formation ${quote(spec)}.`, [FORMATION_HINT])
    formation.set(type, Number(countText))
  }

  return formation
}

/**
 * The instances to start, in Procfile order: 1 of each long-running type unless the formation says
 * otherwise, restricted to `only` when given. Throws unless at least one `tcp` instance remains
 * (pass requireTcp: false when the gateway has other upstreams).
 */
export function resolveFormation(
  procfile: Procfile,
  options: {formation?: string; only?: string[]; requireTcp?: boolean} = {},
): FormationEntry[] {
  const runnable = procfile.entries.filter((entry) => !entry.oneOff)
  const types = runnable.map((entry) => entry.name)
  const known = `The Procfile defines: ${types.join(', ') || '(no long-running types)'}.`
  const requireTcp = options.requireTcp ?? true

  if (requireTcp && !types.includes('tcp')) {
    throw new CliError(
      'The Procfile has no `tcp` process type. Like on Scalingo, the TCP Gateway sends connections to the `tcp` type only.',
      {
        exitCode: ExitCode.Error,
        code: 'NO_TCP_TYPE',
        suggestions: ['Add a line such as `tcp: node server.js` to the Procfile.', known],
      },
    )
  }

  const formation = options.formation === undefined ? new Map<string, number>() : parseFormation(options.formation)
  for (const type of formation.keys()) {
    if (type === 'all' || types.includes(type)) continue
    const why = procfile.entries.some((entry) => entry.name === type && entry.oneOff)
      ? `"${type}" runs once after a deployment and is never started by tcp:proxy.`
      : `Unknown process type "${type}" in the formation.`
    throw new UsageError(why, [known])
  }

  const only = (options.only ?? [])
    .flatMap((item) => item.split(','))
    .map((item) => item.trim())
    .filter(Boolean)
  for (const type of only) {
    if (!types.includes(type)) throw new UsageError(`Unknown process type "${type}" in --only.`, [known])
  }

  const defaultCount = formation.get('all') ?? 1
  const resolved = runnable
    .filter((entry) => only.length === 0 || only.includes(entry.name))
    .map((entry) => ({type: entry.name, command: entry.command, count: formation.get(entry.name) ?? defaultCount}))

  if (requireTcp && !resolved.some((entry) => entry.type === 'tcp' && entry.count >= 1)) {
    const reason =
      only.length > 0 && !only.includes('tcp') ? '--only leaves out the `tcp` type' : 'the formation scales `tcp` to 0'
    throw new UsageError(`Nothing to serve: ${reason}; at least one \`tcp\` instance is required.`, [
      'Scale tcp to at least 1, e.g. --formation tcp=1.',
    ])
  }

  return resolved
}
