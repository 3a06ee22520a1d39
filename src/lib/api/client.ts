import {readFileSync} from 'node:fs'

import {jwtCachePath} from '../config-dir.js'
import {registerSecret, redact} from '../secrets.js'
import {type ResolvedToken, resolveApiToken} from './credentials.js'
import {InvalidResponseError} from './errors.js'
import {httpError, networkError} from './http-errors.js'
import {cachedJwt, jwtCacheDisabled, jwtCacheKey, readJwtCache, saveJwt} from './jwt-store.js'
import {loadHttp} from './load-got.js'
import {authUrl, type ResolvedRegion} from './regions.js'
import {JwtCache, type JwtStore} from './token-exchange.js'
import type {ApiResponse, HttpMethod, RequestOptions, Service} from './types.js'

export interface ClientOptions {
  authUrl?: string
  /** The resolved region (name for messages, API base URL); set later with useRegion() if unknown yet. */
  region?: ResolvedRegion
  /** Where the API token comes from; defaults to resolveApiToken(env). Called at most once. */
  apiToken?: () => Promise<ResolvedToken>
  timeoutMs?: number
  retries?: number
  retryBaseMs?: number
  userAgent?: string
  /** Receives --debug lines (already redacted). Libraries never print: the command decides where they go. */
  log?: (line: string) => void
  env?: NodeJS.ProcessEnv
  /**
   * The JWT cache on disk (jwt-store.ts): `read-write` (the default), `write-only` (always exchange, e.g. to check
   * a token at login, but save the result) or `off`. SCALINGO_TCP_NO_JWT_CACHE=1 turns it off whatever this says.
   */
  jwtCache?: 'off' | 'read-write' | 'write-only'
}

const IDEMPOTENT = new Set<HttpMethod>(['DELETE', 'GET', 'HEAD', 'PUT'])

export const DEFAULT_TIMEOUT_MS = 30_000
export const DEFAULT_RETRIES = 3
export const DEFAULT_RETRY_BASE_MS = 500

function intFromEnv(value: string | undefined, fallback: number): number {
  const parsed = Number.parseInt(value ?? '', 10)
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback
}

let cachedVersion: string | undefined
export function packageVersion(): string {
  // src/lib/api and dist/lib/api are both three levels below the package root.
  cachedVersion ??= JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'))
    .version as string
  return cachedVersion
}

/**
 * A thin client for the Scalingo auth service and regional API: JSON in and out, a bearer JWT
 * exchanged from the API token, kept on disk for the next commands (jwt-store.ts) and refreshed
 * before it expires, timeouts, retries with exponential backoff for idempotent requests, and typed errors.
 */
export class ScalingoClient {
  readonly authUrl: string
  region: ResolvedRegion | undefined
  readonly timeoutMs: number
  readonly retries: number
  readonly retryBaseMs: number
  readonly userAgent: string
  private readonly log?: (line: string) => void
  private readonly tokenLoader: () => Promise<ResolvedToken>
  private token: Promise<ResolvedToken> | undefined
  private readonly jwt: JwtCache

  constructor(options: ClientOptions = {}) {
    const env = options.env ?? process.env
    this.authUrl = (options.authUrl ?? authUrl(env)).replace(/\/+$/, '')
    this.region = options.region
    // A zero timeout would fail every request: treat it as unset.
    this.timeoutMs =
      options.timeoutMs ?? (intFromEnv(env.SCALINGO_TCP_HTTP_TIMEOUT, DEFAULT_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS)
    this.retries = options.retries ?? intFromEnv(env.SCALINGO_TCP_HTTP_RETRIES, DEFAULT_RETRIES)
    this.retryBaseMs = options.retryBaseMs ?? intFromEnv(env.SCALINGO_TCP_RETRY_BASE_MS, DEFAULT_RETRY_BASE_MS)
    this.userAgent = options.userAgent ?? `scalingo-tcp/${packageVersion()}`
    this.log = options.log
    this.tokenLoader = options.apiToken ?? (() => resolveApiToken(env))
    const cacheMode = jwtCacheDisabled(env) ? 'off' : (options.jwtCache ?? 'read-write')
    this.jwt = new JwtCache(
      () => this.exchangeToken(),
      Date.now,
      cacheMode === 'off' ? undefined : this.diskJwtStore(jwtCachePath(env), cacheMode),
    )
  }

  useRegion(region: ResolvedRegion): void {
    this.region = region
  }

  /** The API token and where it came from (resolved once, lazily). */
  apiToken(): Promise<ResolvedToken> {
    this.token ??= this.tokenLoader().then((t) => {
      registerSecret(t.token)
      return t
    })
    return this.token
  }

  /** A fresh or cached bearer JWT. */
  bearer(): Promise<string> {
    return this.jwt.get()
  }

  get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, options).then((r) => r.body)
  }

  post<T>(path: string, json?: unknown, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, {...options, json})
  }

  put<T>(path: string, json?: unknown, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('PUT', path, {...options, json})
  }

  patch<T>(path: string, json?: unknown, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('PATCH', path, {...options, json})
  }

  delete<T>(path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('DELETE', path, options)
  }

  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const service = options.service ?? 'api'
    const authMode = options.auth ?? 'bearer'
    const url = this.url(service, path, options.searchParams)
    const retryable = options.retry ?? IDEMPOTENT.has(method)
    let refreshedJwt = false
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = {accept: 'application/json', 'user-agent': this.userAgent}
      if (options.json !== undefined) headers['content-type'] = 'application/json'
      if (authMode === 'bearer') headers.authorization = `Bearer ${await this.jwt.get()}`
      if (authMode === 'basic') {
        headers.authorization = `Basic ${Buffer.from(`:${(await this.apiToken()).token}`).toString('base64')}`
      }

      let response: {status: number; headers: ApiResponse<T>['headers']; text: string}
      try {
        response = await this.send(method, url, headers, options.json)
      } catch (error) {
        const failure = networkError(error, {method, url, attempt, timeoutMs: this.timeoutMs})
        if (retryable && attempt <= this.retries) {
          await this.backoff(attempt, failure.message)
          continue
        }

        throw failure
      }

      // An old JWT the platform no longer accepts: exchange once more and replay the request.
      if (response.status === 401 && authMode === 'bearer' && !refreshedJwt) {
        refreshedJwt = true
        this.debug(`JWT refused (401), exchanging the API token again`)
        await this.jwt.refresh()
        attempt--
        continue
      }

      if ((response.status === 429 || response.status >= 500) && retryable && attempt <= this.retries) {
        await this.backoff(attempt, `HTTP ${response.status}`)
        continue
      }

      if (response.status >= 400) {
        const tokenOrigin = async () => (await this.apiToken().catch(() => undefined))?.origin
        throw await httpError(response, {
          method,
          url,
          service,
          auth: authMode,
          names: options.names,
          attempt,
          region: this.region,
          tokenOrigin,
        })
      }
      return {status: response.status, headers: response.headers, body: this.parse<T>(response, method, url)}
    }
  }

  private url(service: Service, path: string, searchParams?: RequestOptions['searchParams']): string {
    let base = this.authUrl
    if (service === 'api') {
      if (!this.region) throw new Error('ScalingoClient: no region resolved before a regional API call')
      base = this.region.apiUrl
    }

    const url = new URL(base.replace(/\/+$/, '') + path)
    for (const [key, value] of Object.entries(searchParams ?? {})) url.searchParams.set(key, String(value))
    return url.toString()
  }

  private async send(
    method: HttpMethod,
    url: string,
    headers: Record<string, string>,
    json: unknown,
  ): Promise<{status: number; headers: ApiResponse<unknown>['headers']; text: string}> {
    const send = await loadHttp()
    const started = Date.now()
    this.debug(
      `--> ${method} ${url}\n${Object.entries(headers)
        .map(([k, v]) => `    ${k}: ${v}`)
        .join('\n')}`,
    )
    if (json !== undefined) this.debug(`    ${JSON.stringify(json)}`)
    const response = await send({
      method,
      url,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      timeoutMs: this.timeoutMs,
    })
    this.debug(`<-- ${response.status} ${method} ${url} (${Date.now() - started} ms)\n    ${response.text}`)
    return response
  }

  private parse<T>(response: {status: number; text: string}, method: string, url: string): T {
    if (response.status === 204 || response.text.trim() === '') return undefined as T
    try {
      return JSON.parse(response.text) as T
    } catch {
      throw new InvalidResponseError(
        `The Scalingo API returned a response that is not JSON (HTTP ${response.status}, ${method} ${url}).`,
        response.status,
      )
    }
  }

  private async backoff(attempt: number, reason: string): Promise<void> {
    const delay = Math.min(this.retryBaseMs * 2 ** (attempt - 1), 10_000)
    const jittered = Math.round(delay * (0.75 + Math.random() * 0.5))
    this.debug(`retrying in ${jittered} ms (attempt ${attempt + 1} of ${this.retries + 1}): ${reason}`)
    await new Promise((resolve) => setTimeout(resolve, jittered))
  }

  private debug(message: string): void {
    this.log?.(redact(message))
  }

  private diskJwtStore(path: string, mode: 'read-write' | 'write-only'): JwtStore {
    const key = async () => jwtCacheKey(this.authUrl, (await this.apiToken()).token)
    return {
      load: async () => {
        if (mode === 'write-only') return undefined
        const file = readJwtCache(path)
        if (file.ignored) this.debug(`JWT cache ${path} ignored: ${file.ignored}`)
        const entry = cachedJwt(file, await key())
        if (entry) this.debug(`JWT from the cache ${path} (valid until ${new Date(entry.exp * 1000).toISOString()})`)
        return entry?.jwt
      },
      save: async (jwt) => {
        try {
          if (await saveJwt(path, await key(), jwt)) this.debug(`JWT saved to the cache ${path}`)
        } catch (error) {
          this.debug(`JWT cache ${path} not written: ${(error as Error).message}`)
        }
      },
    }
  }

  private async exchangeToken(): Promise<string> {
    // A POST, but it creates nothing: retrying it is safe, and a blip must not fail a long wait that needs a fresh JWT.
    const {body} = await this.request<{token?: string}>('POST', '/v1/tokens/exchange', {
      service: 'auth',
      auth: 'basic',
      json: {},
      retry: true,
    })
    if (!body?.token) throw new InvalidResponseError('The Scalingo token exchange returned no token.', 200)
    registerSecret(body.token)
    return body.token
  }
}
