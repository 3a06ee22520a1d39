import {redact} from '../secrets.js'

/**
 * A spinner on stderr that degrades to plain status lines when stderr is not a TTY or --json is
 * given. ora is imported lazily so commands that never spin do not pay for it.
 */
export interface Spinner {
  update(text: string): void
  succeed(text: string): void
  fail(text: string): void
  stop(): void
}

export async function startSpinner(text: string, options: {json?: boolean} = {}): Promise<Spinner> {
  const stream = process.stderr
  if (options.json) return {update() {}, succeed() {}, fail() {}, stop() {}}
  // A terminal that reports 0 columns (a pty nobody sized) would send ora's line counting into an endless loop.
  if (!stream.isTTY || !stream.columns) {
    let last = ''
    const line = (t: string) => {
      if (t !== last) stream.write(redact(t) + '\n')
      last = t
    }
    line(text)
    return {update: line, succeed: line, fail: line, stop() {}}
  }

  const {default: ora} = await import('ora')
  const spinner = ora({text, stream, isEnabled: true}).start()
  return {
    update: (t) => {
      spinner.text = redact(t)
    },
    succeed: (t) => spinner.succeed(redact(t)),
    fail: (t) => spinner.fail(redact(t)),
    stop: () => spinner.stop(),
  }
}
