"""A child process in its own session, handled as a whole: stop, continue, end.

The child is started with `start_new_session=True`, so it leads a new session and process
group (pgid = sid = its pid) and never gets the terminal's Ctrl-C. Signals go to the group
with `killpg` (one system call, atomic with respect to forks). On Linux we also reach the
processes that left the group (tools that move their children into a group or session of
their own), found without scanning the machine (`proctree`): the leader's subtree through
`/proc/<pid>/task/*/children` while it lives, and afterwards, because oneie is a child
subreaper, among oneie's own adopted orphans, one shared `Census` per tick for every agent.
Each process carries `ONEIE_GROUP` in its environment, so a double-forked daemon that left
the session is still claimed by its agent. All /proc reading that can grow with the
number of processes runs in a worker thread, never on the event loop.

Is the agent over? Once the leader has exited: `killpg(pgid, 0)` (one system call) says
whether the group is empty; only a group that had members outside it, or a census taken
after the leader's exit, can say more.

Ending is: SIGCONT (a stopped process cannot act on SIGTERM), SIGTERM, a grace period, then
SIGKILL for whatever is left, in a shielded and time-bounded scope so a cancelled agent still
cleans up. An `atexit` hook kills groups that are somehow still alive when Python exits, and
the guard process (`guard`) kills them when oneie dies without running any code (kill -9).
"""

from __future__ import annotations

import atexit
import itertools
import os
import secrets
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from oneie_tui.agents.guard import GuardClient
from oneie_tui.agents.proctree import (
    MARKER,
    PROC,
    Census,
    ProcInfo,
    become_subreaper,
    descendants,
    marker_of,
    read_stat,
)
from oneie_tui.agents.spawn import PidfdProcess, open_session_process

GRACE_SECONDS = 3.0
KILL_WAIT_SECONDS = 3.0
_POLL = 0.05
CENSUS_TICK = 0.05  # an agent accepts a census this much older than it asks (one per tick)

_live: set[ProcessGroup] = set()
_by_pid: dict[int, ProcessGroup] = {}  # leader pid -> group, for groups not yet ended
_by_token: dict[str, ProcessGroup] = {}
_OWNER = f"{os.getpid()}-{secrets.token_hex(4)}"
_serial = itertools.count(1)
_census = Census()
_guard = GuardClient(_OWNER)
_linux = PROC.is_dir()


def _attribute(info: ProcInfo, marker: str) -> str | None:
    """The token of the group an orphan belongs to, if any of ours claims it."""
    group = _by_token.get(marker) if marker else None
    if group is None:
        group = _by_pid.get(info.pgid) or _by_pid.get(info.sid)
    return group.token if group is not None else None


def _take_census(after: float) -> None:
    """In a worker thread (or at exit): one look at oneie's adopted orphans."""
    known = list(_by_pid)
    if _guard.pid is not None:
        known.append(_guard.pid)
    _census.take(known, _attribute, after)


_census_running: anyio.Event | None = None


async def census_after(moment: float) -> Census:
    """A census started after `moment` (time.monotonic()), shared: while one is being
    taken in a worker thread, every other agent waits for it instead of taking its own."""
    global _census_running
    while _census.taken <= moment:
        running = _census_running
        if running is not None:
            await running.wait()
            continue
        _census_running = running = anyio.Event()
        try:
            await anyio.to_thread.run_sync(_take_census, moment)
        finally:
            _census_running = None
            running.set()
    return _census


def is_agent_process(pid: int) -> bool:
    """Whether process `pid` is one of our agents' or their children's: it is in a live
    agent's session, or carries one of our agent markers. Processes of the same user cannot
    be told apart for sure (one may clear its environment and start a session of its own);
    this catches every process that does not try to hide."""
    try:
        if os.getsid(pid) in _by_pid:
            return True
    except OSError:
        return False
    return marker_of(pid) in _by_token


class ProcessGroup:
    """One started command and everything it starts."""

    def __init__(self, process: Process | PidfdProcess, token: str = "") -> None:
        self.process = process
        self.pid = process.pid
        self.token = token or f"{_OWNER}.{next(_serial)}"
        self.ended = False
        # When the process began (the fork, in a worker thread), time.monotonic().
        self.started_at: float = getattr(process, "spawned_at", time.monotonic())
        self.exited_at: float | None = None  # when we saw the leader exit (time.monotonic())
        # Processes of ours seen outside the group (moved to a group or session of their
        # own), so a signal still reaches them after their parent died.
        self._outside: dict[int, ProcInfo] = {}
        # Where pause/resume sweeps for members outside the group run (a task group's
        # start_soon); without one, only the group itself and known members are signalled.
        self.spawn: Callable[..., Any] | None = None
        self._wanted: int | None = None  # SIGSTOP or SIGCONT: what the last pause/resume asked

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bool = False,
    ) -> ProcessGroup:
        """Start `argv` (never through a shell) in a new session. OSError if it cannot run.
        With `stdin`, its stdin is a pipe (`ProcessGroup.stdin`), else closed."""
        if _linux:
            become_subreaper()
        token = f"{_OWNER}.{next(_serial)}"
        full_env = dict(os.environ if env is None else env)
        full_env[MARKER] = token
        process = await open_session_process(argv, cwd=cwd, env=full_env, stdin=stdin)
        group = cls(process, token)
        _live.add(group)
        _by_pid[group.pid] = group
        _by_token[token] = group
        if _linux:
            _guard.tell(f"+{group.pid}")
        return group

    def clock_info(self) -> dict[str, Any]:
        """For the agent's `agent_info` at start: the process has started, and how long
        ago, so its active time starts at the fork and not when the loop heard of it."""
        return {"process_started": True, "started_s_ago": round(max(0.0, time.monotonic() - self.started_at), 6)}

    @property
    def stdout(self) -> ByteReceiveStream:
        assert self.process.stdout is not None
        return self.process.stdout

    @property
    def stdin(self) -> ByteSendStream | None:
        """The pipe to its stdin, when it was started with one."""
        return self.process.stdin

    @property
    def stderr(self) -> ByteReceiveStream:
        assert self.process.stderr is not None
        return self.process.stderr

    # --- finding members ------------------------------------------------------------

    def _group_exists(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _known_outside(self) -> dict[int, ProcInfo]:
        """Members seen outside the group that are still the same live processes."""
        for pid, info in list(self._outside.items()):
            again = read_stat(pid)
            if again is None or again.start != info.start or again.state in ("Z", "X"):
                self._outside.pop(pid, None)  # gone, or the pid now belongs to someone else
        return self._outside

    def _discover(self, census: Census | None) -> dict[int, ProcInfo]:
        """Members outside the group: the leader's subtree while it lives (O(subtree)) and
        the orphans the census gave to us. Blocking: call it from a worker thread."""
        if not _linux:
            return {}
        if self.process.returncode is None:
            for pid, info in descendants(self.pid).items():
                if info.pgid != self.pid:
                    self._outside[pid] = info
        if census is not None:
            for pid, info in census.orphans.get(self.token, {}).items():
                if info.pgid != self.pid:
                    self._outside[pid] = info
        return self._known_outside()

    def _live_now(self) -> bool:
        """Cheap: the leader runs, the group has a member, or a known outside member lives."""
        if self.process.returncode is None:
            return True
        if self.exited_at is None:
            self.exited_at = time.monotonic()
        return self._group_exists() or bool(self._known_outside())

    # --- signals ----------------------------------------------------------------

    def _send(self, signum: int) -> None:
        """`signum` to the group (one system call) and to the known members outside it."""
        if self.ended:
            return
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in list(self._outside):
            try:
                os.kill(pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def signal(self, signum: int) -> None:
        """Send `signum` to the whole group and to every member outside it, looking for
        those now (blocking /proc reads: for interpreter exit and tests, not the loop)."""
        if self.ended:
            return
        if _linux:
            _take_census(time.monotonic() - CENSUS_TICK)
            self._discover(_census)
        self._send(signum)

    async def signal_all(self, signum: int) -> None:
        """`signal`, with the looking done in a worker thread."""
        if self.ended:
            return
        self._send(signum)  # at once: the group, and whoever we already know of
        if not _linux:
            return
        census = await census_after(time.monotonic() - CENSUS_TICK)
        before = set(self._outside)
        await anyio.to_thread.run_sync(self._discover, census)
        if set(self._outside) - before:
            self._send(signum)

    def stop(self) -> None:
        """SIGSTOP everything (pause): the group now, members outside it from a sweep."""
        self._wanted = signal.SIGSTOP
        self._send(signal.SIGSTOP)
        self._sweep_soon()

    def cont(self) -> None:
        """SIGCONT everything (resume)."""
        self._wanted = signal.SIGCONT
        self._send(signal.SIGCONT)
        self._sweep_soon()

    def _sweep_soon(self) -> None:
        if self.spawn is not None and _linux and not self.ended:
            self.spawn(self._sweep)

    async def _sweep(self) -> None:
        """Look for members outside the group (worker thread) and give them what the last
        pause or resume asked; repeated while new ones turn up (a fork storm)."""
        for _ in range(3):
            before = set(self._outside)
            await anyio.to_thread.run_sync(self._discover, None)
            if self._wanted is not None:
                self._send(self._wanted)
            if set(self._outside) <= before:
                break

    async def alive_async(self) -> bool:
        """Is any process of ours (leader included) still running? The census is consulted
        only once the group is empty and the leader has exited."""
        if self.process.returncode is None:
            return True
        if not _linux:
            return self._live_now()
        if self._live_now():
            # Members of the group that died after the leader are zombies adopted by us,
            # and a zombie still counts for killpg: the census reaps them, then look again.
            await census_after(time.monotonic() - CENSUS_TICK)
            if self._live_now():
                return True
        assert self.exited_at is not None
        census = await census_after(self.exited_at)
        if census.orphans.get(self.token):
            await anyio.to_thread.run_sync(self._discover, census)
            return self._group_exists() or bool(self._outside)
        return False

    def alive(self) -> bool:
        """`alive_async` for synchronous callers (blocking reads: not for the loop)."""
        if self._live_now():
            return True
        if not _linux:
            return False
        _take_census(time.monotonic() - CENSUS_TICK)
        self._discover(_census)
        return self._group_exists() or bool(self._outside)

    # --- ending -----------------------------------------------------------------

    async def wait(self) -> int:
        """Wait for the leader to exit; its return code (negative: killed by that signal)."""
        code = await self.process.wait()
        if self.exited_at is None:
            self.exited_at = time.monotonic()
        return code

    async def terminate(self, grace: float = GRACE_SECONDS) -> None:
        """End every process of ours: CONT, TERM, `grace` seconds, then KILL until none is
        left. Shielded from cancellation and bounded in time."""
        if self.ended:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(grace + KILL_WAIT_SECONDS + 1.0):
            if not await self.alive_async():
                return
            await self.signal_all(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self._send(signal.SIGTERM)
            with anyio.move_on_after(grace):
                while await self.alive_async():
                    await anyio.sleep(_POLL)
            with anyio.move_on_after(KILL_WAIT_SECONDS):
                while await self.alive_async():
                    await self.signal_all(signal.SIGKILL)
                    await anyio.sleep(_POLL)

    async def shutdown(self, grace: float = GRACE_SECONDS) -> None:
        """`terminate`, then close our pipe ends and reap the leader. Safe to repeat."""
        if self.ended:
            return
        await self.terminate(grace)
        with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
            await self.process.aclose()
        self._forget()

    def kill_now(self) -> None:
        """Synchronous last resort (interpreter exit): CONT and KILL everything."""
        if self.ended:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        self._forget()

    def _forget(self) -> None:
        self.ended = True
        _live.discard(self)
        _by_pid.pop(self.pid, None)
        _by_token.pop(self.token, None)
        if _linux and not self._group_exists():  # else the guard keeps it, to end it with us
            _guard.tell(f"-{self.pid}")


@atexit.register
def _kill_leftovers() -> None:
    for group in list(_live):
        group.kill_now()
