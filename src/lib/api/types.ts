/** Shapes from the Scalingo API contract (../shared/platform/scalingo-api.md); only the fields we use are required. */

export interface Variable {
  id: string
  name: string
  value: string
}

export interface App {
  id: string
  name: string
  status?: string
  region?: string
  url?: string
  git_url?: string
  [key: string]: unknown
}

export interface User {
  id: string
  username: string
  fullname?: string
  email?: string
  flags?: Record<string, unknown>
}

// ---- requests: what ScalingoClient takes and returns (here, so that the modules it uses can name them too)

export type HttpMethod = 'DELETE' | 'GET' | 'HEAD' | 'PATCH' | 'POST' | 'PUT'
export type Service = 'api' | 'auth'

export interface RequestOptions {
  /** `api` (regional, the default) or `auth` (auth.scalingo.com). */
  service?: Service
  json?: unknown
  searchParams?: Record<string, string | number | boolean>
  /** `bearer` (JWT, the default), `basic` (API token, only for the exchange) or `none`. */
  auth?: 'basic' | 'bearer' | 'none'
  /** Identifiers for 404 messages, keyed by the body's `resource` (e.g. {app: 'my-app'}). */
  names?: Record<string, string>
  /** Retry on 429, 5xx and network errors; defaults to true for idempotent methods only. */
  retry?: boolean
}

export interface ApiResponse<T> {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: T
}

/** What a module needs to call the API (ScalingoClient is one): regions.ts lists the regions through it. */
export interface ApiRequester {
  request<T>(method: HttpMethod, path: string, options?: RequestOptions): Promise<ApiResponse<T>>
}
