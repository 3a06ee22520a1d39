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
