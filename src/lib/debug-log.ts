import {redact} from './secrets.js'

/** The sink for --debug (or DEBUG=...) lines: stderr, redacted. undefined when debugging is off. */
export function debugLogger(
  debug: boolean | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ((line: string) => void) | undefined {
  if (!debug && !env.DEBUG) return undefined
  return (line: string) => {
    process.stderr.write(redact(line) + '\n')
  }
}
