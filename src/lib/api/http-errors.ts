/** The failures of a Scalingo API call as the typed errors of errors.ts, with messages that say what to do next. */
import {
  ApiError,
  AuthenticationError,
  ForbiddenError,
  NetworkError,
  RateLimitError,
  ResourceNotFoundError,
  ServerError,
  ValidationError,
} from './errors.js'
import type {ResolvedRegion} from './regions.js'
import type {RequestOptions, Service} from './types.js'

const UNREACHABLE_CODES = new Set(['EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND'])

/** What went wrong with a request that got no usable response (refused, DNS, dropped, timed out). */
export function networkError(
  error: unknown,
  request: {method: string; url: string; attempt: number; timeoutMs: number},
): NetworkError {
  const {method, url, attempt} = request
  const e = error as Error & {code?: string}
  const host = new URL(url).host
  const tries = attempt > 1 ? ` after ${attempt} attempts` : ''
  if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT') {
    return new NetworkError(
      `The Scalingo API at ${host} did not answer within ${request.timeoutMs} ms${tries} (${method} ${new URL(url).pathname}).`,
      'API_TIMEOUT',
      ['Check your network, or raise the timeout with SCALINGO_TCP_HTTP_TIMEOUT (milliseconds)'],
    )
  }

  if (e.code && UNREACHABLE_CODES.has(e.code)) {
    return new NetworkError(`Could not reach the Scalingo API at ${host} (${e.code})${tries}.`, 'UNREACHABLE', [
      'Check your network connection',
      'Check SCALINGO_API_URL / SCALINGO_AUTH_URL if you set them',
    ])
  }

  return new NetworkError(
    `The connection to the Scalingo API at ${host} failed (${e.code ?? e.message})${tries}.`,
    'CONNECTION_FAILED',
    ['Try again; run with --debug to see the requests'],
  )
}

/** The request an HTTP error answered, as its message needs it. */
export interface FailedRequest {
  method: string
  url: string
  service: Service
  auth: RequestOptions['auth']
  /** Identifiers for 404 messages, keyed by the body's `resource`. */
  names?: Record<string, string>
  attempt: number
  region?: ResolvedRegion
  /** Where the API token came from, for a 401's message (undefined when none could be found). */
  tokenOrigin(): Promise<string | undefined>
}

/**
 * An HTTP status of 400 or more from the Scalingo API as the typed error the user sees: 401 names where the token
 * came from, 404 the missing resource (or a wrong SCALINGO_API_URL), 422 the platform's field messages.
 */
export async function httpError(response: {status: number; text: string}, request: FailedRequest): Promise<ApiError> {
  const {method, url, service, attempt} = request
  const authMode = request.auth
  let body: {error?: string; resource?: string; errors?: Record<string, string[]>; url?: string} = {}
  try {
    body = JSON.parse(response.text) ?? {}
  } catch {
    // Error bodies are sometimes plain text (a 429 says "Retry later").
  }

  const status = response.status
  const platformMessage = typeof body.error === 'string' ? body.error : response.text.trim().slice(0, 200)
  const tries = attempt > 1 ? ` after ${attempt} attempts` : ''
  if (status === 401) {
    const origin = await request.tokenOrigin()
    const from = origin ? ` (API token from ${origin})` : ''
    const what = authMode === 'basic' ? 'rejected the API token' : 'refused the credentials'
    return new AuthenticationError(`The Scalingo API ${what}${from}: it is invalid, expired or revoked.`, 401)
  }

  if (status === 404) {
    const where =
      service === 'api' && request.region
        ? ` in region ${request.region.name} (${new URL(request.region.apiUrl).host})`
        : ''
    // The platform names the missing resource; a 404 without one means the route itself is unknown there,
    // which is what a SCALINGO_API_URL or SCALINGO_AUTH_URL pointing at the wrong server gives.
    if (typeof body.resource !== 'string') {
      return new ResourceNotFoundError(
        `The Scalingo API at ${new URL(url).host} has no ${method} ${new URL(url).pathname} (HTTP 404).`,
        'route',
        ['Check SCALINGO_API_URL / SCALINGO_AUTH_URL if you set them'],
      )
    }

    const resource = body.resource
    const id = request.names?.[resource]
    const label = resource.charAt(0).toUpperCase() + resource.slice(1).replaceAll('_', ' ')
    const suggestions =
      resource === 'app' && service === 'api'
        ? [
            'Check the app name: `scalingo apps` lists the apps you can access',
            'If the app lives in another region, pass --region (osc-fr1, osc-secnum-fr1)',
          ]
        : []
    return new ResourceNotFoundError(`${label}${id ? ` '${id}'` : ''} not found${where}.`, resource, suggestions)
  }

  if (status === 422) {
    const fields = body.errors && typeof body.errors === 'object' ? body.errors : {}
    const lines = Object.entries(fields).map(([field, messages]) => `  ${field}: ${[messages].flat().join(', ')}`)
    const detail = lines.length > 0 ? `\n${lines.join('\n')}` : platformMessage ? `: ${platformMessage}` : ''
    return new ValidationError(
      `The Scalingo API rejected the request (${method} ${new URL(url).pathname})${detail}`,
      fields,
    )
  }

  if (status === 402 || status === 403) {
    const suggestions = body.url ? [`See ${body.url}`] : []
    const fallback = status === 402 ? 'Payment required.' : 'You are not allowed to do this.'
    return new ForbiddenError(platformMessage || fallback, status, suggestions)
  }

  if (status === 429) {
    return new RateLimitError(`The Scalingo API is rate limiting requests (HTTP 429)${tries}.`)
  }

  if (status >= 500) {
    return new ServerError(
      `The Scalingo API failed with HTTP ${status}${platformMessage ? `: ${platformMessage}` : ''}${tries} (${method} ${new URL(url).pathname}).`,
      status,
    )
  }

  return new ApiError(
    `The Scalingo API answered HTTP ${status}${platformMessage ? `: ${platformMessage}` : ''} (${method} ${new URL(url).pathname}).`,
    {
      status,
    },
  )
}
