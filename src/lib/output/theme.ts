import {Chalk, type ChalkInstance} from 'chalk'

/**
 * Colour is decided once per stream: only on a TTY, never with NO_COLOR, --no-color or --json.
 * FORCE_COLOR=1 forces it (useful for screenshots and tests of the colour path).
 */
export interface ColorChoice {
  json?: boolean
  noColor?: boolean
}

export function colorEnabled(stream: NodeJS.WriteStream, choice: ColorChoice = {}): boolean {
  if (choice.json || choice.noColor) return false
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true
  return Boolean(stream.isTTY)
}

export function theme(stream: NodeJS.WriteStream, choice: ColorChoice = {}): ChalkInstance {
  return new Chalk({level: colorEnabled(stream, choice) ? 1 : 0})
}
