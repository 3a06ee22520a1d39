/**
 * Exit codes are part of the public interface (documented in the README), so every failure path
 * goes through one of these.
 */
export const ExitCode = {
  Ok: 0,
  Error: 1,
  Usage: 2,
  Auth: 3,
  NotFound: 4,
  Timeout: 5,
  Interrupted: 130,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * An error meant for the user: a message that says what went wrong, optional suggestions that say
 * what to try next, and the exit code. Rendered without a stack trace.
 */
export class CliError extends Error {
  readonly exitCode: ExitCode
  readonly suggestions: string[]
  readonly code: string

  constructor(message: string, options: {exitCode?: ExitCode; suggestions?: string[]; code?: string} = {}) {
    super(message)
    this.name = 'CliError'
    this.exitCode = options.exitCode ?? ExitCode.Error
    this.suggestions = options.suggestions ?? []
    this.code = options.code ?? 'ERROR'
  }
}

export class UsageError extends CliError {
  constructor(message: string, suggestions: string[] = []) {
    super(message, {exitCode: ExitCode.Usage, suggestions, code: 'USAGE'})
    this.name = 'UsageError'
  }
}

export class NotFoundError extends CliError {
  constructor(message: string, suggestions: string[] = []) {
    super(message, {exitCode: ExitCode.NotFound, suggestions, code: 'NOT_FOUND'})
    this.name = 'NotFoundError'
  }
}

export class TimeoutError extends CliError {
  constructor(message: string, suggestions: string[] = []) {
    super(message, {exitCode: ExitCode.Timeout, suggestions, code: 'TIMEOUT'})
    this.name = 'TimeoutError'
  }
}

export class InterruptedError extends CliError {
  constructor(message = 'Interrupted.', suggestions: string[] = []) {
    super(message, {exitCode: ExitCode.Interrupted, suggestions, code: 'INTERRUPTED'})
    this.name = 'InterruptedError'
  }
}
