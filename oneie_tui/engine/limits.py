"""How many process-backed agents can run at once under this process's limits.

Every `command` or `claude-code` agent holds pipes (and a child watcher), a `claude`
agent a connection: with `max_parallel = 0` and hundreds of agents, `ulimit -n` or the
process limit would fail one agent with EMFILE/EAGAIN and the cascade would cancel the
rest. So the runner queues the excess instead (with a note saying why), and `oneie
validate` warns beforehand. The costs are per running agent, measured on Linux with a
margin: the parent's ends of stdout/stderr plus the transient fds of a spawn."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FD_COST = {"sim": 0, "claude": 2, "command": 4, "claude-code": 4}
PROC_COST = {"command": 2, "claude-code": 2}  # the process, and the thread that waits for it
FD_RESERVE = 64  # the store, its writer, the terminal, logs, the control socket, imports
PROC_RESERVE = 16


@dataclass(frozen=True)
class Capacity:
    """`limit`: how many resource-using agents may run at once (None: no limit needed for
    `wanted` of them). `note` says which limit and what it allows, for the user."""

    limit: int | None
    wanted: int
    note: str = ""


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 16


def user_tasks(uid: int) -> int:
    """Processes and threads of `uid`: what RLIMIT_NPROC counts."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        uid_line = next((line for line in text.splitlines() if line.startswith("Uid:")), "")
        if uid_line.split()[1:2] == [str(uid)]:
            threads = next((line for line in text.splitlines() if line.startswith("Threads:")), "Threads: 1")
            count += int(threads.split()[1])
    return count


def uses_resources(backend: str) -> bool:
    return bool(FD_COST.get(backend, 0) or PROC_COST.get(backend, 0))


def capacity(backends: Iterable[str]) -> Capacity:
    """The cap for agents on these backends (one entry per agent), under the current
    RLIMIT_NOFILE and, for a user other than root, RLIMIT_NPROC."""
    names = list(backends)
    costly = [b for b in names if uses_resources(b)]
    if not costly:
        return Capacity(None, 0)
    limits: list[tuple[int, str]] = []
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fd_cost = max(FD_COST.get(b, 0) for b in costly)
    if soft != resource.RLIM_INFINITY and fd_cost:
        free = soft - open_fds() - FD_RESERVE
        limits.append((max(1, free // fd_cost), f"the open-file limit (ulimit -n {soft})"))
    proc_cost = max(PROC_COST.get(b, 0) for b in costly)
    nproc, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    # The kernel does not hold root to RLIMIT_NPROC.
    if proc_cost and os.geteuid() != 0 and nproc != resource.RLIM_INFINITY:
        free = nproc - user_tasks(os.getuid()) - PROC_RESERVE
        limits.append((max(1, free // proc_cost), f"the process limit (ulimit -u {nproc})"))
    if not limits:
        return Capacity(None, len(costly))
    limit, why = min(limits)
    if limit >= len(costly):
        return Capacity(None, len(costly))
    return Capacity(limit, len(costly), f"{why} lets {limit} of these {len(costly)} agents run at once")
