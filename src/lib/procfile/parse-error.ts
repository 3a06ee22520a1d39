import {CliError, ExitCode} from '../errors.js'

/** What was being parsed: the error's `code` in --json output. */
export type ParseErrorCode = 'PROCFILE' | 'DOTENV'

/** A Procfile or .env file the user must fix: the message names the file and, when there is one, the line. */
export class ParseError extends CliError {
  readonly line?: number

  constructor(code: ParseErrorCode, message: string, options: {line?: number; suggestions?: string[]} = {}) {
    super(message, {exitCode: ExitCode.Error, suggestions: options.suggestions, code})
    this.name = 'ParseError'
    this.line = options.line
  }
}
