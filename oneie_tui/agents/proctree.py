"""Finding an agent's processes without scanning the machine (Linux; elsewhere: nothing).

- `become_subreaper()`: oneie marks itself a child subreaper (`PR_SET_CHILD_SUBREAPER`),
  so a process whose parent dies is re-parented to oneie instead of init. An agent's
  leftovers, double-forked daemons included, stay below oneie, where we can see them.
- `descendants(pid)`: a live process's subtree, through `/proc/<pid>/task/*/children`:
  O(size of the subtree), never O(processes on the machine).
- `Census`: one shared look at oneie's own children that are not agent leaders (orphans
  re-parented to us), taken in a worker thread at most once per tick however many agents
  ask, attributing each orphan to its agent by process group, session, or the marker
  `ONEIE_GROUP` in its environment. Orphan zombies it can attribute are reaped here (a
  subreaper must reap what it adopts); it never waits for a pid it cannot attribute, so the
  exit status of a child someone else started is never stolen.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
MARKER = "ONEIE_GROUP"  # in each agent's environment: "<owner>.<n>", inherited by its children
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    state: str
    ppid: int
    pgid: int
    sid: int
    start: int  # start time in clock ticks: tells a reused pid from the process we saw


def read_stat(pid: int) -> ProcInfo | None:
    """One process from /proc/PID/stat, or None if it is gone (or there is no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return ProcInfo(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def children(pid: int) -> list[int]:
    """The direct children of a live process (of all its threads); [] when it is gone."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(x) for x in fh.read().split())
        except (OSError, ValueError):
            continue
    return found


def descendants(pid: int) -> dict[int, ProcInfo]:
    """Every live (non-zombie) process below `pid`."""
    found: dict[int, ProcInfo] = {}
    stack = children(pid)
    while stack:
        child = stack.pop()
        if child in found:
            continue
        info = read_stat(child)
        if info is None or info.state in ("Z", "X"):
            continue
        found[child] = info
        stack.extend(children(child))
    return found


def marker_of(pid: int) -> str:
    """The value of ONEIE_GROUP in a process's environment (as it was started), or ""."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = fh.read()
    except OSError:
        return ""
    key = MARKER.encode() + b"="
    for item in env.split(b"\0"):
        if item.startswith(key):
            return item[len(key) :].decode("ascii", "replace")
    return ""


_subreaper: bool | None = None


def become_subreaper() -> bool:
    """Make this process a child subreaper (once). False where the platform cannot."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if PROC.is_dir():
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                _subreaper = False
    return _subreaper


Attribute = Callable[[ProcInfo, str], str | None]  # (process, its marker) -> group key


class Census:
    """Orphans below oneie, by the group they belong to. One snapshot serves every agent
    that asks for one taken after a given moment (`after`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.taken = -1.0  # time.monotonic() when the newest snapshot started
        self.orphans: dict[str, dict[int, ProcInfo]] = {}
        self.unknown: dict[int, ProcInfo] = {}  # orphans no group claims
        self.reaped = 0

    def take(self, leaders: Iterable[int], attribute: Attribute, after: float = -1.0) -> None:
        """Look now, unless a snapshot started after `after` already exists. Thread-safe."""
        with self._lock:
            if self.taken > after:
                return
            started = time.monotonic()
            known = set(leaders)
            me = os.getpid()
            my_sid = os.getsid(0)
            orphans: dict[str, dict[int, ProcInfo]] = {}
            unknown: dict[int, ProcInfo] = {}
            for pid in children(me):
                if pid in known:
                    continue
                info = read_stat(pid)
                if info is None:
                    continue
                zombie = info.state in ("Z", "X")
                key = attribute(info, "" if zombie else marker_of(pid))
                if zombie:
                    # Adopted for sure (so nobody else may wait for it): claimed by a group,
                    # or in a session that is neither ours nor its own (a child started
                    # directly by other code is in our session or leads its own).
                    if key is not None or info.sid not in (my_sid, pid):
                        self._reap(pid)
                    continue
                tree = {pid: info, **descendants(pid)}
                if key is None:
                    unknown.update(tree)
                else:
                    orphans.setdefault(key, {}).update(tree)
            self.orphans, self.unknown = orphans, unknown
            self.taken = started

    def _reap(self, pid: int) -> None:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        self.reaped += 1 if done else 0
