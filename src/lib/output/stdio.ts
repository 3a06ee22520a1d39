import {closeSync} from 'node:fs'
import {isatty} from 'node:tty'

/**
 * Turns write errors on stdout and stderr into an ordinary call, never an uncaught exception (a
 * stream 'error' without a listener is one). `onStdoutFailed` gets the first stdout error: EPIPE when
 * the reader went away (`| head`), EIO when the terminal hung up, ENOSPC on a full disk... stderr's
 * errors are swallowed: stderr only carries hints and warnings, and has nowhere to report its own
 * failure. Writes after an error are dropped by the stream itself (a destroyed socket or TTY ignores
 * them; a file stream reports each one as another 'error', swallowed here).
 *
 * stdout's 'error' listeners so far are removed: @oclif/core adds one when it loads that rethrows
 * every error but EPIPE, which made any other one (EIO, ENOSPC) an uncaught exception. Returns the
 * function that removes ours.
 */
export function guardStdio(onStdoutFailed: (error: NodeJS.ErrnoException) => void): () => void {
  process.stdout.removeAllListeners('error')
  let failed = false
  const onStdoutError = (error: NodeJS.ErrnoException) => {
    if (failed) return
    failed = true
    onStdoutFailed(error)
  }

  const onStderrError = () => {}
  process.stdout.on('error', onStdoutError)
  process.stderr.on('error', onStderrError)
  return () => {
    process.stdout.off('error', onStdoutError)
    process.stderr.off('error', onStderrError)
  }
}

/**
 * The terminal this process was started on, if any: which of stdin, stdout and stderr were a TTY at
 * start, and whether that terminal has hung up since (its window closed, its SSH connection lost).
 *
 * How a hangup is told from a `kill -HUP` sent on purpose: the kernel hangs the terminal up before it
 * sends SIGHUP, and from then on every operation on it fails with EIO, tcgetattr() included, which is
 * what isatty() asks. So a descriptor that was a TTY at start and no longer answers isatty() is a
 * terminal that hung up; a terminal that is fine still answers it, whoever sent the SIGHUP.
 */
export class Terminal {
  private readonly fds: number[]
  private releasing = false

  constructor() {
    this.fds = [0, 1, 2].filter((fd) => isatty(fd))
  }

  /** True once the terminal has hung up; then also makes sure this process can exit cleanly. */
  hungUp(): boolean {
    if (!this.fds.some((fd) => !isatty(fd))) return false
    this.releaseAtExit()
    return true
  }

  /**
   * Node restores the terminal's settings at exit and, in Node 20 at least, aborts (SIGABRT after an
   * assertion message) when that fails, as it does on a hung-up terminal (nodejs/node#51519; the check
   * was dropped later by nodejs/node#58200). It skips a descriptor that is closed by then, so the
   * hung-up ones are closed as the process exits. Not earlier: a file opened in the meantime would get
   * their number, and our output with it.
   */
  private releaseAtExit(): void {
    if (this.releasing) return
    this.releasing = true
    process.on('exit', () => {
      for (const fd of this.fds) {
        if (isatty(fd)) continue
        try {
          closeSync(fd)
        } catch {
          // already closed
        }
      }
    })
  }
}
