import {homedir} from 'node:os'
import {join} from 'node:path'

/**
 * Where scalingo-tcp keeps its own configuration (never the Scalingo CLI's directory):
 * $SCALINGO_TCP_CONFIG_DIR, else $XDG_CONFIG_HOME/scalingo-tcp, else ~/.config/scalingo-tcp.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SCALINGO_TCP_CONFIG_DIR) return env.SCALINGO_TCP_CONFIG_DIR
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'scalingo-tcp')
  return join(env.HOME || homedir(), '.config', 'scalingo-tcp')
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'credentials.json')
}

/** Bearer JWTs exchanged from API tokens, kept between commands (src/lib/api/jwt-store.ts). */
export function jwtCachePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'jwt-cache.json')
}
