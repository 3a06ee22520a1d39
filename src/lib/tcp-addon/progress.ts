import {type Spinner, startSpinner} from '../output/spinner.js'

/**
 * One spinner at a time on stderr for a multi-step command: progress() starts or updates it,
 * done() ticks it off, warn() stops it and prints a warning line, stop() cleans up after an error.
 */
export class StepSpinner {
  private spinner: Spinner | undefined

  constructor(private readonly json: boolean) {}

  async progress(text: string): Promise<void> {
    if (this.spinner) this.spinner.update(text)
    else this.spinner = await startSpinner(text, {json: this.json})
  }

  done(text: string): void {
    this.spinner?.succeed(text)
    this.spinner = undefined
  }

  warn(text: string): void {
    this.spinner?.stop()
    this.spinner = undefined
    if (!this.json) process.stderr.write(`Warning: ${text}\n`)
  }

  fail(text: string): void {
    this.spinner?.fail(text)
    this.spinner = undefined
  }
}
