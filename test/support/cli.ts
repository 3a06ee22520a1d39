import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  input?: string
  /** Keep the parent's environment (default: a minimal one, so the developer's tokens never leak into tests). */
  inheritEnv?: boolean
  timeoutMs?: number
}

/** oclif wraps error and warning lines to the terminal's width behind a ` ›   ` gutter: joins them back for matching. */
export const unwrap = (text: string) => text.replaceAll(/\s*\n ›\s+/g, ' ')

/** Joins every line break of the text, with or without oclif's ` ›` gutter, for matching across any wrapping. */
export const unwrapAll = (text: string) => text.replaceAll(/\s*\n\s*›?\s*/g, ' ')

/** A clean environment: no Scalingo variables, no colour forcing, HOME pointed wherever the test says. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  // SCALINGO_TCP_GATEWAY_IO passes through so the suites can be run on each gateway transport.
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SystemRoot', 'SCALINGO_TCP_GATEWAY_IO']) {
    const value = process.env[key]
    if (value !== undefined) env[key] = value
  }

  // The developer's own HOME must not collect the JWTs of fake platforms; a test with its own HOME gets the cache (runCli).
  env.SCALINGO_TCP_NO_JWT_CACHE = '1'
  return env
}

/**
 * What an npm run by a test needs from this machine once baseEnv() has dropped the rest and the test has given it
 * its own HOME: the CA and proxy settings (NODE_EXTRA_CA_CERTS, http_proxy/https_proxy/no_proxy in either case),
 * every npm_config_* (as npm itself passes them to the npm a script runs), and the developer's npm cache and user
 * config (~/.npmrc: registry, cafile, nodedir for node-gyp's headers), which the new HOME would otherwise hide.
 */
export function npmEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  const proxies = ['http_proxy', 'https_proxy', 'no_proxy'].flatMap((name) => [name, name.toUpperCase()])
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value !== undefined &&
      (key === 'NODE_EXTRA_CA_CERTS' || proxies.includes(key) || key.toLowerCase().startsWith('npm_config_'))
    )
      env[key] = value
  }

  env.npm_config_cache ??= join(homedir(), '.npm')
  const userconfig = join(homedir(), '.npmrc')
  if (env.npm_config_userconfig === undefined && existsSync(userconfig)) env.npm_config_userconfig = userconfig
  return env
}

/** Runs the built CLI (`bin/run.js`) as a real subprocess. */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const {sawPattern: _, ...result} = await spawnCli(args, options)
  return result
}

/**
 * Runs the CLI, waits for `pattern` on stderr, then sends SIGINT as Ctrl-C does; `sawPattern` says whether it did.
 * The JWT cache stays off unless the caller's env turns it on, and the run is SIGKILLed after 15 s.
 */
export function interruptCli(
  args: string[],
  pattern: RegExp,
  options: {env?: Record<string, string | undefined>; cwd?: string} = {},
): Promise<CliResult & {sawPattern: boolean}> {
  return spawnCli(
    args,
    {env: {SCALINGO_TCP_NO_JWT_CACHE: '1', ...options.env}, cwd: options.cwd, timeoutMs: 15_000},
    pattern,
  )
}

/** runCli's subprocess; with `interruptOn`, SIGINT once stderr matches it. */
function spawnCli(
  args: string[],
  options: CliOptions,
  interruptOn?: RegExp,
): Promise<CliResult & {sawPattern: boolean}> {
  const env: Record<string, string> = options.inheritEnv ? {...(process.env as Record<string, string>)} : baseEnv()
  if (options.env?.HOME !== undefined && !('SCALINGO_TCP_NO_JWT_CACHE' in options.env))
    delete env.SCALINGO_TCP_NO_JWT_CACHE
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }

  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {cwd: options.cwd ?? ROOT, env, stdio: 'pipe'})
    let stdout = ''
    let stderr = ''
    let sawPattern = false
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
      if (interruptOn && !sawPattern && interruptOn.test(stderr)) {
        sawPattern = true
        child.kill('SIGINT')
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr, sawPattern})
    })
    child.stdin.end(options.input ?? '')
  })
}
