"""No agent process outlives oneie (issue 12, item 4; issue 14, item 1), with real processes:

- `kill -9` of oneie itself: the guard process ends every agent process, including a child
  in a session of its own and a double-forked daemon;
- a double-forked daemon (fork, setsid, fork) left behind by an agent that exits 0 is found
  (oneie is a child subreaper; the daemon carries ONEIE_GROUP) and ended with its agent;
- pause reaches a child that moved to a session of its own while its parent lives.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from oneie_tui.engine.runner import Runner
from tests.fakes.process_tools import (
    PY,
    alive,
    loaded,
    proc_stat,
    run_spec,
    script,
    spec_text,
    status_of,
    wait_until,
)
from tests.reliability.helpers import spawn_oneie

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

# argv: pid_file linger. Starts a child in the group, a child in a session of its own and a
# double-forked daemon, writes every pid, then stays `linger` seconds (0: exits at once).
FAMILY = r"""
import os, subprocess, sys, time
from pathlib import Path
pid_file, linger = Path(sys.argv[1]), float(sys.argv[2])
same = subprocess.Popen(["sleep", "1000"])
own = subprocess.Popen(["sleep", "1000"], start_new_session=True)
r, w = os.pipe()
if os.fork() == 0:  # the classic daemon: fork, setsid, fork, the middle one exits
    os.setsid()
    if os.fork() == 0:
        os.close(r)
        os.write(w, str(os.getpid()).encode())
        os.close(w)
        os.closerange(0, 3)
        time.sleep(1000)
    os._exit(0)
os.close(w)
daemon = int(os.read(r, 32))
pid_file.write_text(f"{os.getpid()} {same.pid} {own.pid} {daemon}")
print("family ready", flush=True)
time.sleep(linger)
"""


def _pids(pid_file: Path) -> list[int]:
    try:
        return [int(x) for x in pid_file.read_text().split()]
    except (OSError, ValueError):
        return []


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    until = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < until:
        time.sleep(0.05)
    return alive(pids)


def test_kill9_of_oneie_leaves_no_agent_process(tmp_path: Path) -> None:
    family = script(tmp_path, "family.py", FAMILY)
    pid_files = [tmp_path / f"a{i}.pids" for i in range(3)]
    spec = tmp_path / "family.toml"
    spec.write_text(spec_text([{"id": f"a{i}", "command": {"argv": [PY, family, str(p), "1000"]}}
                               for i, p in enumerate(pid_files)]))
    proc = spawn_oneie("run", str(spec), "--headless", "--store", str(tmp_path / "runs.sqlite3"))
    pids: list[int] = []
    try:
        until = time.monotonic() + 30
        while time.monotonic() < until and not all(len(_pids(p)) == 4 for p in pid_files):
            time.sleep(0.05)
        pids = [pid for p in pid_files for pid in _pids(p)]
        assert len(pids) == 12 and len(alive(pids)) == 12, pids
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        left = _wait_gone(pids, 5.0)
    finally:
        for pid in alive(pids):  # never leave the test's own processes behind
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    assert left == [], [(p, proc_stat(p)) for p in left]


def test_double_forked_daemon_of_a_finished_agent_is_ended(tmp_path: Path) -> None:
    family = script(tmp_path, "family.py", FAMILY)
    pid_file = tmp_path / "quick.pids"
    spec = loaded([{"id": "quick", "command": {"argv": [PY, family, str(pid_file), "0"], "grace_seconds": 0.5}}])
    try:
        runner, events = run_spec(spec, tmp_path)
        pids = _pids(pid_file)
        assert len(pids) == 4
        # The agent counts as over only once nothing of it is left: no waiting here.
        left = alive(pids)
    finally:
        for pid in alive(_pids(pid_file)):
            os.kill(pid, signal.SIGKILL)
    assert status_of(events, "quick") == "completed"
    assert left == [], [(p, proc_stat(p)) for p in left]


def test_pause_reaches_a_child_in_a_session_of_its_own(tmp_path: Path) -> None:
    family = script(tmp_path, "family.py", FAMILY)
    pid_file = tmp_path / "paused.pids"
    spec = loaded([{"id": "paused", "command": {"argv": [PY, family, str(pid_file), "1000"], "grace_seconds": 0.5}}])
    observed: dict[str, object] = {}

    async def pause_then_cancel(runner: Runner) -> None:
        await wait_until(lambda: len(_pids(pid_file)) == 4)
        leader, same, own, daemon = _pids(pid_file)
        assert runner.pause("paused")
        await wait_until(lambda: all((proc_stat(p) or ("?",))[0] == "T" for p in (leader, same, own)), timeout=10)
        observed["stopped"] = True
        runner.cancel("paused")

    try:
        run_spec(spec, tmp_path, controller=pause_then_cancel)
        left = alive(_pids(pid_file))
    finally:
        for pid in alive(_pids(pid_file)):
            os.kill(pid, signal.SIGKILL)
    assert observed.get("stopped")
    assert left == []
