"""A bounded exit that does not depend on the event loop.

Once a signal or a hang-up says "leave", the clean path (cancel the run, let its shielded
cleanup end the agents, restore the terminal, exit 130) normally takes well under 2 s.
But after a hang-up the terminal is gone, and a write to it, or a loop stuck behind one,
must not keep oneie alive forever. So a plain thread gives the clean path `seconds`;
then it kills every agent process group still alive, puts the terminal back as far as it
can, and leaves with `os._exit`, which needs neither the loop nor the interpreter's exit.
No Textual here.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import stat
import sys
import termios
import threading
from collections.abc import Callable

from oneie_tui.agents.procgroup import _kill_leftovers

DEADLINE_SECONDS = 4.0  # the clean path's share of the 5 s a hang-up may take

# Leave the alternate screen, every mouse mode off, cursor shown: what Textual's own exit
# writes, for when it could not.
RESTORE = b"\x1b[?1049l" + b"".join(f"\x1b[?{m}l".encode() for m in (1000, 1002, 1003, 1005, 1006, 1015, 1016)) + b"\x1b[?25h"

# The signals that mean "stop this run, resumably": handled like SIGTERM everywhere.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)

_armed: threading.Timer | None = None
_lock = threading.Lock()


def arm(code: int, *, seconds: float = DEADLINE_SECONDS, terminal: bool = False,
        before: Callable[[], None] | None = None) -> None:
    """Make sure the process is gone within `seconds`. Idempotent: the first call counts."""
    global _armed
    with _lock:
        if _armed is not None:
            return
        _armed = threading.Timer(seconds, _leave, args=(code, terminal, before))
        _armed.daemon = True
        _armed.name = "oneie-exit-deadline"
        _armed.start()


def disarm() -> None:
    """The clean path finished: no forced exit (tests run several apps in one process)."""
    global _armed
    with _lock:
        if _armed is not None:
            _armed.cancel()
            _armed = None


def _leave(code: int, terminal: bool, before: Callable[[], None] | None) -> None:
    try:
        _kill_leftovers()  # SIGCONT + SIGKILL to every agent group still alive
        if before is not None:
            with contextlib.suppress(Exception):
                before()
        # A terminal nobody reads blocks a write; these get half a second, then the exit.
        last_words = threading.Thread(target=_last_words, args=(terminal,), daemon=True)
        last_words.start()
        last_words.join(0.5)
    finally:
        os._exit(code)


def _last_words(terminal: bool) -> None:
    logging.getLogger("oneie").warning("exit deadline reached: agents killed, leaving without the event loop")
    if terminal:
        restore_terminal()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write("oneie: the run did not end in time after the signal; its agents were killed\n")
        sys.stderr.flush()


def terminal_hung_up() -> bool:
    """fd 0 is a terminal that has gone away (its pty master closed, the line dropped):
    terminal calls then fail with EIO. A SIGHUP sent with `kill` leaves it working."""
    try:
        if not stat.S_ISCHR(os.fstat(0).st_mode):
            return False
        termios.tcgetattr(0)
    except termios.error as exc:
        return bool(exc.args and exc.args[0] == errno.EIO)
    except OSError as exc:
        return exc.errno == errno.EIO
    return False


def detach_terminal() -> None:
    """The terminal hung up: point the standard fds that were it at /dev/null, so the
    writes still queued for it (the dashboard's output thread) succeed instead of failing
    with EIO and stalling whoever waits on them. A file or pipe someone redirected to is
    left alone: only the character device fd 0 is, and fds on that same device, change."""
    try:
        tty = os.fstat(0)
    except OSError:
        return
    if not stat.S_ISCHR(tty.st_mode):
        return
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in (0, 1, 2):
                with contextlib.suppress(OSError):
                    st = os.fstat(fd)
                    if stat.S_ISCHR(st.st_mode) and st.st_rdev == tty.st_rdev:
                        os.dup2(null, fd)
        finally:
            os.close(null)


def restore_terminal() -> None:
    """Best effort, never blocking for long: a hung-up tty answers EIO at once."""
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                os.write(fd, RESTORE)
                break
    with contextlib.suppress(OSError, termios.error):
        if os.isatty(0):
            attrs = termios.tcgetattr(0)
            attrs[3] |= termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN
            termios.tcsetattr(0, termios.TCSANOW, attrs)
