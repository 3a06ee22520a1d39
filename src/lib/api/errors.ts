import {commandRef} from '../command-line.js'
import {CliError, ExitCode} from '../errors.js'

const LOGIN_SUGGESTIONS = [
  `Run \`${commandRef('scalingo:login')}\` to store a valid API token (create one at https://dashboard.scalingo.com/account/tokens)`,
  'Or set SCALINGO_API_TOKEN to a valid API token (tk-us-...)',
]

/** Every failure of a Scalingo API call; `status` is the HTTP status, or undefined when no response came back. */
export class ApiError extends CliError {
  readonly status: number | undefined

  constructor(
    message: string,
    options: {status?: number; exitCode?: ExitCode; suggestions?: string[]; code?: string} = {},
  ) {
    super(message, {
      exitCode: options.exitCode ?? ExitCode.Error,
      suggestions: options.suggestions,
      code: options.code ?? 'API_ERROR',
    })
    this.name = 'ApiError'
    this.status = options.status
  }
}

/** 401: the API token (or the JWT obtained from it) was refused, or no token could be found. */
export class AuthenticationError extends ApiError {
  constructor(message: string, status?: number, suggestions: string[] = LOGIN_SUGGESTIONS) {
    super(message, {status, exitCode: ExitCode.Auth, suggestions, code: 'AUTH'})
    this.name = 'AuthenticationError'
  }
}

/** 404: `resource` comes from the response body ({"resource": "app", "error": "not found"}). */
export class ResourceNotFoundError extends ApiError {
  readonly resource: string

  constructor(message: string, resource: string, suggestions: string[] = []) {
    super(message, {status: 404, exitCode: ExitCode.NotFound, suggestions, code: 'NOT_FOUND'})
    this.name = 'ResourceNotFoundError'
    this.resource = resource
  }
}

/** 422: the platform's per-field validation messages. */
export class ValidationError extends ApiError {
  readonly fields: Record<string, string[]>

  constructor(message: string, fields: Record<string, string[]>) {
    super(message, {status: 422, code: 'VALIDATION'})
    this.name = 'ValidationError'
    this.fields = fields
  }
}

/** 402/403: billing or permission problems; the platform's own message says what to do. */
export class ForbiddenError extends ApiError {
  constructor(message: string, status: number, suggestions: string[] = []) {
    super(message, {status, suggestions, code: status === 402 ? 'PAYMENT_REQUIRED' : 'FORBIDDEN'})
    this.name = 'ForbiddenError'
  }
}

export class RateLimitError extends ApiError {
  constructor(message: string) {
    super(message, {
      status: 429,
      code: 'RATE_LIMITED',
      suggestions: ['The Scalingo API allows 60 requests per minute: wait a minute and try again'],
    })
    this.name = 'RateLimitError'
  }
}

export class ServerError extends ApiError {
  constructor(message: string, status: number) {
    super(message, {
      status,
      code: 'SERVER_ERROR',
      suggestions: ['Try again in a moment', 'Check https://scalingostatus.com for ongoing incidents'],
    })
    this.name = 'ServerError'
  }
}

/** No usable response: connection refused, DNS failure, connection dropped, or request timeout. */
export class NetworkError extends ApiError {
  constructor(message: string, code: string, suggestions: string[]) {
    super(message, {code, suggestions})
    this.name = 'NetworkError'
  }
}

/** The response was not the JSON the contract promises. */
export class InvalidResponseError extends ApiError {
  constructor(message: string, status: number) {
    super(message, {
      status,
      code: 'INVALID_RESPONSE',
      suggestions: ['Try again; if it persists, run with --debug and report it'],
    })
    this.name = 'InvalidResponseError'
  }
}

export {LOGIN_SUGGESTIONS}
