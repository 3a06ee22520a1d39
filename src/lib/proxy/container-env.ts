import {execFile} from 'node:child_process'
import {basename} from 'node:path'

import {MARKER_VARIABLE} from '../supervisor/strays.js'

/** What every container of the app shares, as the platform computes it once per deployment. */
export interface AppIdentity {
  app: string
  /** The git commit when in a git repository, as CONTAINER_VERSION is on the platform. */
  version?: string
  tcpUrl: string
}

export function defaultAppName(cwd: string): string {
  return (
    basename(cwd)
      .toLowerCase()
      .replaceAll(/[^a-z0-9-]/g, '-') || 'app'
  )
}

export function gitCommit(cwd: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', ['rev-parse', 'HEAD'], {cwd, timeout: 5000}, (error, stdout) =>
      resolve(error ? undefined : stdout.trim() || undefined),
    )
  })
}

/**
 * The user's own credentials never reach a container on the platform, so they do not reach local
 * instances either (nor `env --local`). Nor does the marker of a gateway this one runs under (started
 * from an instance): the supervisor gives each instance its own, and `eval "$(env --local --shell)"`
 * must never make the user's shell look like one of a gateway's processes (it would be stopped with them).
 */
const HOST_ONLY = new Set(['SCALINGO_API_TOKEN', MARKER_VARIABLE])

/**
 * The environment one container gets: the parent environment, the .env values, then what the
 * platform injects (PORT, CONTAINER, HOSTNAME...). TCP_URL comes last so a stale TCP_URL in .env can
 * never point clients at the wrong place.
 */
export function containerEnv(
  identity: AppIdentity,
  container: {type: string; index: number; port?: number},
  parentEnv: Record<string, string | undefined>,
  dotenv: Record<string, string>,
): Record<string, string> {
  // no prototype: `env[k] = v` and Object.assign() would drop a variable named __proto__ (it is a setter on plain objects)
  const env: Record<string, string> = Object.create(null) as Record<string, string>
  for (const [k, v] of Object.entries(parentEnv)) if (v !== undefined && !HOST_ONLY.has(k)) env[k] = v
  Object.assign(env, dotenv)
  const name = `${container.type}-${container.index}`
  Object.assign(env, {
    APP: identity.app,
    CONTAINER: name,
    CONTAINER_VERSION: identity.version ?? 'local',
    CONTAINER_SIZE: 'M',
    CONTAINER_MEMORY: String(512 * 1024 * 1024),
    HOSTNAME: `${identity.app}-${name}`,
    REGION_NAME: 'local',
    SCALINGO_APPLICATION_ID: `ap-local-${identity.app}`,
    STACK: 'scalingo-22',
    TCP_URL: identity.tcpUrl,
  })
  if (container.port === undefined) delete env.PORT
  else env.PORT = String(container.port)
  return env
}
