import {redact} from '../secrets.js'
import {type ColorChoice, theme} from './theme.js'

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

export async function startSpinner(text: string, options: ColorChoice = {}): Promise<Spinner> {
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

  // ora's own colours (chalk's) ignore NO_COLOR: the frame and the final symbol are painted here.
  // Without options.noColor, --no-color is read from the command line as chalk itself reads it.
  const paint = theme(stream, {noColor: options.noColor ?? process.argv.includes('--no-color')})
  const {default: ora} = await import('ora')
  const spinner = ora({text, stream, isEnabled: true, color: paint.level > 0 ? 'cyan' : false}).start()
  return {
    update: (t) => {
      spinner.text = redact(t)
    },
    succeed: (t) => spinner.stopAndPersist({symbol: paint.green('✔'), text: redact(t)}),
    fail: (t) => spinner.stopAndPersist({symbol: paint.red('✖'), text: redact(t)}),
    stop: () => spinner.stop(),
  }
}
