"""The guard: a tiny watchdog process that ends every agent process once oneie is gone,
however it went (`kill -9` included, when no handler and no `atexit` of ours runs).

oneie starts it once (Linux, at the first agent process) in a session of its own, keeps
the write end of a pipe to it, and tells it each agent group as it starts and ends
(`+<pgid>` / `-<pgid>`). The guard blocks reading. End of file means oneie has exited:
the guard then sends each group it was told of SIGTERM (a second to end cleanly, so a CLI
keeps its session), then SIGKILLs the groups and, from one look at /proc per round,
every process whose session or group is one of them or whose environment carries this
oneie's marker (`ONEIE_GROUP=<owner>.…`), for a few rounds to catch processes forked
meanwhile. What it cannot find: a process that left the session *and* scrubbed its
environment after its parent died; see docs/reliability.md.

Run as `python -m oneie_tui.agents.guard <owner>`; standard library only, so it starts in
a few milliseconds and holds no copy of oneie's memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

ROUNDS_SECONDS = 2.0  # how long the guard keeps looking for stragglers after oneie exits
TERM_GRACE = 1.0  # SIGTERM first: a coding CLI writes its session out, so a resume continues


def _stat(pid: int) -> tuple[str, int, int] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[2]), int(fields[3])


def _marked(pid: int, prefix: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return any(item.startswith(prefix) for item in fh.read().split(b"\0"))
    except OSError:
        return False


def sweep(groups: set[int], owner: str) -> int:
    """SIGKILL every process of ours once; how many were signalled."""
    prefix = f"ONEIE_GROUP={owner}.".encode()
    me = os.getpid()
    hit = 0
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
            hit += 1
        except OSError:
            pass
    try:
        names = os.listdir("/proc")
    except OSError:
        return hit
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        st = _stat(pid)
        if st is None or st[0] in ("Z", "X"):
            continue
        if st[1] in groups or st[2] in groups or _marked(pid, prefix):
            try:
                os.kill(pid, signal.SIGKILL)
                hit += 1
            except OSError:
                pass
    return hit


def serve(owner: str) -> None:
    groups: set[int] = set()
    stdin = sys.stdin.buffer
    for raw in stdin:
        line = raw.strip()
        try:
            if line.startswith(b"+"):
                groups.add(int(line[1:]))
            elif line.startswith(b"-"):
                groups.discard(int(line[1:]))
        except ValueError:
            continue
    # oneie is gone. First ask politely (SIGCONT so paused groups hear it), then SIGKILL
    # whatever is left: stopped processes die on SIGKILL too.
    for pgid in groups:
        for signum in (signal.SIGTERM, signal.SIGCONT):
            try:
                os.killpg(pgid, signum)
            except OSError:
                pass
    grace = time.monotonic() + TERM_GRACE
    while time.monotonic() < grace and any(_group_exists(g) for g in groups):
        time.sleep(0.05)
    until = time.monotonic() + ROUNDS_SECONDS
    while time.monotonic() < until:
        if sweep(groups, owner) == 0 and not groups:
            break
        groups = {g for g in groups if _group_exists(g)}
        time.sleep(0.05)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


class GuardClient:
    """oneie's end: starts the guard lazily and tells it of groups. Never raises."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._proc: subprocess.Popen[bytes] | None = None
        self._broken = False

    def _ensure(self) -> subprocess.Popen[bytes] | None:
        if self._proc is None and not self._broken:
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-S", "-m", "oneie_tui.agents.guard", self.owner],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # the terminal's Ctrl-C and hang-up do not reach it
                    env={"PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PATH": os.defpath},
                    cwd="/",
                )
            except OSError:
                self._broken = True
        return self._proc

    def tell(self, line: str) -> None:
        proc = self._ensure()
        if proc is None or proc.stdin is None:
            return
        try:  # one write(2), no buffering: the guard must know before oneie can die
            os.write(proc.stdin.fileno(), line.encode() + b"\n")
        except (OSError, ValueError):
            self._broken = True

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only the end of oneie ends the guard
    serve(sys.argv[1] if len(sys.argv) > 1 else "")
