"""A child process in its own session, handled as a whole: stop, continue, end.

The child is started with `start_new_session=True`, so it leads a new session and process
group (pgid = sid = its pid) and never gets the terminal's Ctrl-C. Signals go to the group
with `killpg`; on Linux we also signal, from /proc, every process of the session and every
descendant of the child, which catches tools that move their children into a group of their
own. (A process that both starts a new session and is orphaned escapes; that needs cgroups.)

Ending is: SIGCONT (a stopped process cannot act on SIGTERM), SIGTERM, a grace period, then
SIGKILL for whatever is left, in a shielded and time-bounded scope so a cancelled agent still
cleans up. An `atexit` hook kills groups that are somehow still alive when Python exits.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream, Process

GRACE_SECONDS = 3.0
KILL_WAIT_SECONDS = 3.0
_POLL = 0.05
_PROC = Path("/proc")

_live: set[ProcessGroup] = set()


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
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return ProcInfo(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def all_processes() -> list[ProcInfo]:
    out = []
    try:
        names = os.listdir(_PROC)
    except OSError:
        return []
    for name in names:
        if name.isdigit():
            info = read_stat(int(name))
            if info is not None:
                out.append(info)
    return out


def members(leader: int, tree: bool = True) -> dict[int, ProcInfo]:
    """Live (non-zombie) processes of the leader's group or session and, with `tree`,
    the leader and its descendants. (Once the leader is reaped its pid may be reused, so
    callers then pass tree=False: its children were reparented anyway.)"""
    procs = all_processes()
    found = {p.pid: p for p in procs if p.state != "Z" and (p.pgid == leader or p.sid == leader)}
    if not tree:
        return found
    children: dict[int, list[ProcInfo]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    stack = [leader]
    while stack:
        for child in children.get(stack.pop(), []):
            if child.pid not in found and child.state != "Z":
                found[child.pid] = child
                stack.append(child.pid)
    leader_info = next((p for p in procs if p.pid == leader), None)
    if leader_info is not None and leader_info.state != "Z":
        found[leader] = leader_info
    return found


class ProcessGroup:
    """One started command and everything it starts."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.pid = process.pid
        self.ended = False
        # Every process we have seen in the group, so the kill also reaches those whose
        # parent died before we looked (they are reparented and leave the ppid tree).
        self._seen: dict[int, ProcInfo] = {}

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ProcessGroup:
        """Start `argv` (never through a shell) in a new session. OSError if it cannot run."""
        process = await anyio.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
        group = cls(process)
        _live.add(group)
        return group

    @property
    def stdout(self) -> ByteReceiveStream:
        assert self.process.stdout is not None
        return self.process.stdout

    @property
    def stderr(self) -> ByteReceiveStream:
        assert self.process.stderr is not None
        return self.process.stderr

    # --- signals ----------------------------------------------------------------

    def _refresh(self) -> dict[int, ProcInfo]:
        """Every live process of ours: the group, the session, descendants, and those seen
        before whose pid still names the same process."""
        current = members(self.pid, tree=self.process.returncode is None)
        for pid, info in list(self._seen.items()):
            again = current.get(pid) or read_stat(pid)
            if again is None or again.start != info.start or again.state == "Z":
                del self._seen[pid]  # gone, or the pid now belongs to someone else
        self._seen.update(current)
        return self._seen

    def signal(self, signum: int) -> None:
        """Send `signum` to the whole group and to members outside it."""
        if self.ended:
            return
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
        outside = [pid for pid, info in self._refresh().items() if info.pgid != self.pid]
        for pid in outside:
            try:
                os.kill(pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def stop(self) -> None:
        """SIGSTOP everything (pause). Repeated briefly to catch processes forked meanwhile."""
        if self.ended:
            return
        for _ in range(3):
            before = set(self._seen)
            self.signal(signal.SIGSTOP)
            if set(self._seen) == before:
                break

    def cont(self) -> None:
        """SIGCONT everything (resume)."""
        self.signal(signal.SIGCONT)

    def alive(self) -> bool:
        """Is any process of ours (leader included) still running?"""
        if self.process.returncode is None:
            return True
        if _PROC.is_dir():
            return bool(self._refresh())
        try:  # no /proc: the group exists while any member does
            os.killpg(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    # --- ending -----------------------------------------------------------------

    async def wait(self) -> int:
        """Wait for the leader to exit; its return code (negative: killed by that signal)."""
        return await self.process.wait()

    async def terminate(self, grace: float = GRACE_SECONDS) -> None:
        """End every process of ours: CONT, TERM, `grace` seconds, then KILL until none is
        left. Shielded from cancellation and bounded in time."""
        if self.ended:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(grace + KILL_WAIT_SECONDS + 1.0):
            if not self.alive():
                return
            self.signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self.signal(signal.SIGTERM)
            with anyio.move_on_after(grace):
                while self.alive():
                    await anyio.sleep(_POLL)
            with anyio.move_on_after(KILL_WAIT_SECONDS):
                while self.alive():
                    self.signal(signal.SIGKILL)
                    await anyio.sleep(_POLL)

    async def shutdown(self, grace: float = GRACE_SECONDS) -> None:
        """`terminate`, then close our pipe ends and reap the leader. Safe to repeat."""
        if self.ended:
            return
        await self.terminate(grace)
        with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
            await self.process.aclose()
        self.ended = True
        _live.discard(self)

    def kill_now(self) -> None:
        """Synchronous last resort (interpreter exit): CONT and KILL everything."""
        if self.ended:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        self.ended = True
        _live.discard(self)


@atexit.register
def _kill_leftovers() -> None:
    for group in list(_live):
        group.kill_now()
