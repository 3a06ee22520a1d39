import {existsSync} from 'node:fs'
import {dirname, resolve} from 'node:path'

import {UsageError} from '../errors.js'
import {loadEnvFiles} from '../procfile/dotenv.js'
import {resolveFormation} from '../procfile/formation.js'
import {readProcfile} from '../procfile/procfile.js'
import type {ProcessType} from './instance.js'
import type {Upstream} from './upstreams.js'

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
  const only = options.only?.split(',').map((s) => s.trim()).filter(Boolean)
  const formation = resolveFormation(procfile, {formation: options.formation, only, requireTcp: !options.hasUpstreams}).map(({type, command, count}) => ({type, command, count}))
  return {dir, formation, dotenv, warnings: procfile.warnings}
}
