"""Runs a command on a new pseudo-terminal, as a terminal emulator or sshd does (test/support/tty.ts).

    python3 pty-driver.py COLS ROWS COMMAND [ARGS...]

The command becomes the session leader with the pty as its controlling terminal and as its stdin,
stdout and stderr. This driver holds the master side: what the command shows is copied to our stdout,
what arrives on our stdin is typed into the terminal. SIGUSR1 closes the master, which is what closing
the terminal window or losing the SSH connection does: the kernel hangs the terminal up (SIGHUP to
the session leader, later reads give EOF and writes EIO).

On our stderr: `pty-driver pid N` once started, and `pty-driver exit {"code": C, "signal": S}` once the
command has ended, however it ended. Our exit code is the command's (128 + signal when killed).
"""
import errno
import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios

cols, rows, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    os.execvp(argv[0], argv)

sys.stderr.write(f'pty-driver pid {pid}\n')
sys.stderr.flush()

# Signals become bytes on a pipe, so the loop below waits on one select() for everything.
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
for sig in (signal.SIGUSR1, signal.SIGCHLD):
    signal.signal(sig, lambda *_: None)


def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


status = None
reading_stdin = True
while master is not None:
    watched = [master, wake_r] + ([0] if reading_stdin else [])
    ready, _, _ = select.select(watched, [], [])
    if wake_r in ready:
        numbers = os.read(wake_r, 64)
        if signal.SIGUSR1 in numbers:
            os.close(master)
            master = None
            break
        if signal.SIGCHLD in numbers:
            done, result = os.waitpid(pid, os.WNOHANG)
            if done:
                status = result
                # the command ended while something it started may still hold the terminal: show
                # what is left to read, then stop
                os.set_blocking(master, False)
                try:
                    while data := os.read(master, 65536):
                        write_all(1, data)
                except OSError:
                    pass
                break
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError as error:
            # EIO: every slave side is closed (the command and what inherited the terminal exited)
            if error.errno != errno.EIO:
                raise
            data = b''
        if not data:
            os.close(master)
            master = None
            break
        write_all(1, data)
    if reading_stdin and 0 in ready:
        data = os.read(0, 65536)
        if data:
            write_all(master, data)
        else:
            reading_stdin = False

if status is None:
    _, status = os.waitpid(pid, 0)
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
sig = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None
sys.stderr.write('pty-driver exit ' + json.dumps({'code': code, 'signal': sig}) + '\n')
sys.stderr.flush()
sys.exit(code if code is not None else 128 + os.WTERMSIG(status))
