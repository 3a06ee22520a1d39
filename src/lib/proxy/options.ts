import {existsSync} from 'node:fs'
import {dirname, resolve} from 'node:path'

import {parseDuration, parseDurationRange} from '../duration.js'
import {CliError, UsageError} from '../errors.js'
import {GatewayError} from '../gateway/errors.js'
import type {BalanceMode, DropMode, MaxConnectionsMode} from '../gateway/types.js'
import {unbracket} from '../host-port.js'
import {loadEnvFiles} from '../procfile/dotenv.js'
import {resolveFormation} from '../procfile/formation.js'
import {readProcfile} from '../procfile/procfile.js'
import {defaultAppName, gitCommit} from './container-env.js'
import type {LocalAppOptions, ProcessType, Upstream} from './model.js'

/** `HOST:PORT` or `[v6]:PORT` or a bare `PORT` (on 127.0.0.1). */
export function parseUpstream(text: string): Upstream {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text.trim()) ?? /^()()(\d+)$/.exec(text.trim())
  const port = match ? Number(match[3]) : Number.NaN
  if (!match || !(port >= 1 && port <= 65_535)) {
    throw new UsageError(`--upstream "${text}" is not HOST:PORT with a port between 1 and 65535.`, [
      '--upstream 127.0.0.1:9000',
    ])
  }

  return {host: match[1] || match[2] || '127.0.0.1', port}
}

export interface AppSource {
  /** Where the processes run: the Procfile's directory, as foreman does. */
  dir: string
  formation: ProcessType[]
  dotenv: Record<string, string>
  warnings: string[]
}

/**
 * Reads the Procfile, the .env files and the formation. With only --upstream instances a Procfile
 * is optional: a missing default Procfile then just means there is nothing to start.
 */
export async function loadAppSource(options: {
  procfile?: string
  envFiles?: string[]
  formation?: string
  only?: string
  hasUpstreams: boolean
}): Promise<AppSource> {
  const procfilePath = resolve(options.procfile ?? 'Procfile')
  const dir = dirname(procfilePath)
  const envFiles = options.envFiles?.length
    ? options.envFiles.map((f) => resolve(f))
    : existsSync(resolve(dir, '.env'))
      ? [resolve(dir, '.env')]
      : []
  const dotenv = await loadEnvFiles(envFiles)
  if (options.hasUpstreams && !options.procfile && !existsSync(procfilePath)) {
    return {dir, formation: [], dotenv, warnings: []}
  }

  const procfile = await readProcfile(procfilePath)
  const only = options.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const formation = resolveFormation(procfile, {
    formation: options.formation,
    only,
    requireTcp: !options.hasUpstreams,
  }).map(({type, command, count}) => ({type, command, count}))
  return {dir, formation, dotenv, warnings: procfile.warnings}
}

/** tcp:proxy's flags, as oclif parses them. */
export interface ProxyFlags {
  app?: string
  host: string
  port: number
  'web-port': number
  upstream?: string[]
  balance: string
  drop: string
  grace: string
  'boot-timeout': string
  'queue-timeout': string
  'max-crashes': number
  chaos?: string
  'backoff-base': string
  'restart-attempts': number
  'max-connections'?: number
  'max-connections-mode': string
  'idle-timeout'?: string
  json?: boolean
  'log-connections'?: boolean
}

/** web-N listens on --web-port + N - 1: the last one must still be a port. */
function checkWebPorts(webPort: number, formation: ProcessType[]): void {
  const count = formation.find((p) => p.type === 'web')?.count ?? 0
  const last = webPort + count - 1
  if (count > 0 && last > 65_535) {
    throw new UsageError(
      `--web-port ${webPort} with ${count} web instances would put web-${count} on port ${last}: ports go up to 65535.`,
      [
        `Lower --web-port to ${65_536 - count} or less`,
        `Or start fewer web instances (--formation web=${65_536 - webPort})`,
      ],
    )
  }
}

/** The LocalApp tcp:proxy runs: the app source read from disk, tuned by the flags. */
export async function localAppOptions(flags: ProxyFlags, source: AppSource): Promise<LocalAppOptions> {
  checkWebPorts(flags['web-port'], source.formation)
  return {
    cwd: source.dir,
    app: flags.app ?? defaultAppName(source.dir),
    version: await gitCommit(source.dir),
    formation: source.formation,
    upstreams: (flags.upstream ?? []).map(parseUpstream),
    parentEnv: process.env,
    dotenv: source.dotenv,
    host: unbracket(flags.host),
    port: flags.port,
    webPort: flags['web-port'],
    balance: flags.balance as BalanceMode,
    drop: flags.drop as DropMode,
    graceMs: parseDuration(flags.grace),
    bootTimeoutMs: parseDuration(flags['boot-timeout']),
    queueTimeoutMs: parseDuration(flags['queue-timeout']),
    maxCrashes: flags['max-crashes'],
    backoffBaseMs: parseDuration(flags['backoff-base']),
    restartAttempts: flags['restart-attempts'],
    chaos: flags.chaos === undefined ? undefined : parseChaos(flags.chaos),
    maxConnections: flags['max-connections'],
    maxConnectionsMode: flags['max-connections-mode'] as MaxConnectionsMode,
    idleTimeoutMs: flags['idle-timeout'] === undefined ? 0 : parseDuration(flags['idle-timeout']),
    // Every connection pays for its events: only when something shows them.
    connectionEvents: Boolean(flags.json || flags['log-connections']),
  }
}

/** What the user should know before it starts: Procfile names the platform refuses, a gateway open to the network. */
export function startupWarnings(source: AppSource, host: string): string[] {
  const warnings = [...source.warnings]
  if (!LOOPBACK_HOSTS.has(unbracket(host)))
    warnings.push(`The gateway listens on ${host}: it is reachable from the network, not only from this machine.`)
  return warnings
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1'])

function parseChaos(text: string): {minMs: number; maxMs: number} {
  const range = parseDurationRange(text)
  if (range.minMs <= 0)
    throw new UsageError(`--chaos ${text}: the interval must be longer than 0.`, ['--chaos 5m', '--chaos 30s..2m'])
  return range
}

/**
 * The gateway's errors in terms of tcp:proxy's flags (the gateway names none): what to pass instead. Any other
 * error is returned as it is.
 */
export function gatewayCliError(error: unknown): unknown {
  if (!(error instanceof GatewayError)) return error
  const code = error.systemCode ?? error.code
  switch (error.code) {
    case 'EADDRINUSE':
      return new CliError(error.message, {
        suggestions: ['Pass --port <another port>, or stop the program using it.'],
        code,
      })
    case 'EACCES':
      return new CliError(error.message, {
        suggestions: ['Pass --port with a port above 1023, or run with the privileges that port needs.'],
        code,
      })
    case 'EADDRNOTAVAIL':
      return new CliError(error.message, {
        suggestions: ['Pass --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface).'],
        code,
      })
    case 'ELISTEN':
      return new CliError(error.message, {code})
    default:
      return error
  }
}
