/** What each key does while tcp:proxy runs in an interactive terminal. */
export interface KeyHandlers {
  restart(): void
  status(): void
  quit(): void
  /** Ctrl-C: raw mode swallows the SIGINT the terminal would send, so it comes through here. */
  interrupt(): void
  /** The terminal stopped giving keys: end of input or a read error (EIO), as when it hangs up. */
  lost(): void
}

export interface KeyInput {
  isTTY?: boolean
  setRawMode?(mode: boolean): unknown
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown
  on(event: 'end' | 'error', listener: () => void): unknown
  off(event: 'data', listener: (chunk: Buffer | string) => void): unknown
  resume(): unknown
  pause(): unknown
}

/**
 * Reads single key presses from an interactive terminal (raw mode). Returns the function that
 * restores the terminal, or undefined when stdin is not a TTY (piped, CI): then keys are not read
 * at all, so stdin is left alone.
 */
export function listenForKeys(input: KeyInput, handlers: KeyHandlers): (() => void) | undefined {
  if (!input.isTTY || typeof input.setRawMode !== 'function') return undefined
  // A terminal in raw mode never ends its input: an end or an error means it went away (a hung-up
  // terminal also fails to switch raw mode on or off, with an 'error' too). Listened to first, and
  // for good, so none of these can become an uncaught exception.
  let restored = false
  input.on('end', () => restored || handlers.lost())
  input.on('error', () => restored || handlers.lost())
  input.setRawMode(true)
  const onData = (chunk: Buffer | string) => {
    for (const char of chunk.toString()) {
      switch (char) {
        case 'r':
        case 'R':
          handlers.restart()
          break
        case 's':
        case 'S':
          handlers.status()
          break
        case 'q':
        case 'Q':
          handlers.quit()
          break
        case '\u0003':
          handlers.interrupt()
          break
        default:
          break
      }
    }
  }

  input.on('data', onData)
  input.resume()
  return () => {
    if (restored) return
    restored = true
    input.off('data', onData)
    input.setRawMode!(false)
    input.pause()
  }
}
