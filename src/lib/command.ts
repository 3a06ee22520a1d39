import {Command, Errors, Flags} from '@oclif/core'

import {type CommandLine, commandLineFor, fillCommandRefs} from './command-line.js'
import {CliError, ExitCode, InterruptedError} from './errors.js'
import {guardStdio, Terminal} from './output/stdio.js'
import {redact} from './secrets.js'

/**
 * The base of every command. Commands stay thin: parse flags, call src/lib, render. This class
 * turns our typed errors into oclif errors (message, "Try this" suggestions, exit code, no stack
 * trace), names our commands in them as this CLI spells them (command-line.ts), redacts secrets from
 * every error message, and gives --json a structured error.
 */
export abstract class BaseCommand extends Command {
  static override baseFlags = {
    'no-color': Flags.boolean({helpGroup: 'GLOBAL', summary: 'Disable colours (also honoured: NO_COLOR).'}),
  }

  /** The terminal the command was started on, if any (tells whether it hung up since). */
  protected readonly terminal = new Terminal()

  protected override async init(): Promise<void> {
    await super.init()
    guardStdio((error) => this.onOutputClosed(error))
  }

  /**
   * stdout cannot be written any more. Its reader gone (EPIPE: `| head -1` read what it wanted) is
   * no error: there is nothing left worth doing, so exit as things stand. Any other failure (ENOSPC,
   * EIO...) exits 1, said on stderr if stderr still works. tcp:proxy overrides this: it stops its
   * processes first.
   */
  protected onOutputClosed(error: NodeJS.ErrnoException): void {
    this.terminal.hungUp()
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    process.stderr.write(`Error: cannot write to stdout: ${error.message}\n`)
    process.exit(ExitCode.Error)
  }

  /** How the user types one of our commands here: `scalingo-tcp env`, or `heroku env` in the Heroku CLI. */
  protected get commandLine(): CommandLine {
    return commandLineFor(this.config.bin, this.config.topicSeparator)
  }

  /** What the user reads of an error's text: our commands named as typed here, secrets redacted. */
  private errorText(text: string): string {
    return redact(fillCommandRefs(text, this.commandLine))
  }

  /** Status, hints and warnings: stderr only, never in --json mode. */
  protected info(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(redact(message) + '\n')
  }

  protected override toErrorJson(err: unknown): unknown {
    const error = err instanceof CliError ? err : toCliError(err)
    return {
      error: {
        name: error.name,
        code: error.code,
        exitCode: error.exitCode,
        message: this.errorText(error.message),
        suggestions: error.suggestions.map((s) => this.errorText(s)),
      },
    }
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err
    const error = toCliError(err)
    process.exitCode = error.exitCode
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(error))
      throw new Errors.ExitError(error.exitCode)
    }

    throw new Errors.CLIError(this.errorText(error.message), {
      exit: error.exitCode,
      suggestions: error.suggestions.map((s) => this.errorText(s)),
    })
  }
}

/** Maps anything thrown to a CliError; oclif's own parse errors keep their usage exit code. */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err
  const e = err as Error & {oclif?: {exit?: number}; code?: string}
  if (e && typeof e === 'object' && e.oclif?.exit !== undefined) {
    return new CliError(e.message, {exitCode: e.oclif.exit as ExitCode, code: e.oclif.exit === 2 ? 'USAGE' : 'ERROR'})
  }

  if (e?.message === 'SIGINT' || e?.name === 'ExitPromptError' || e?.name === 'AbortPromptError') {
    return new InterruptedError()
  }

  if (process.env.DEBUG) process.stderr.write(redact(String(e?.stack ?? e)) + '\n')
  return new CliError(e?.message ?? String(err), {exitCode: ExitCode.Error})
}
