"""Real pause and cancel of a command agent's whole process group, checked in /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from oneie_tui.engine.runner import Runner
from tests.fakes.process_tools import (
    PY,
    VENV_BIN,
    alive,
    group_members,
    loaded,
    of_type,
    outputs,
    proc_stat,
    run_spec,
    script,
    spec_text,
    status_of,
    wait_until,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

STUBBORN = """
import os, signal, subprocess, sys, time
from pathlib import Path
signal.signal(signal.SIGTERM, signal.SIG_IGN)   # inherited by the sleep below, too
child = subprocess.Popen(["sleep", "1000"])
line = f"pids {os.getpid()} {child.pid}"
if len(sys.argv) > 1:
    Path(sys.argv[1]).write_text(line)
print(line, flush=True)
while True:
    time.sleep(0.1)
"""

TICKER = """
import os, subprocess, sys, time
from pathlib import Path
child = subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(0.05)"])
print(f"pids {os.getpid()} {child.pid}", flush=True)
stop = Path(sys.argv[1])
n = 0
while not stop.exists():
    n += 1
    print(f"tick {n}", flush=True)
    time.sleep(0.05)
child.terminate()
child.wait()
print("done", flush=True)
"""


def _pids(runner_events: list[str]) -> list[int]:
    for line in runner_events:
        if line.startswith("pids "):
            return [int(x) for x in line.split()[1:]]
    return []


def _ticks(lines: list[str]) -> int:
    return sum(1 for line in lines if line.startswith("tick "))


def test_cancel_ends_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    body = script(tmp_path, "stubborn.py", STUBBORN)
    spec = loaded([{"id": "stubborn", "command": {"argv": [PY, body], "grace_seconds": 0.3}}])
    seen: list[str] = []
    pids: list[int] = []

    async def cancel_when_ready(runner: Runner) -> None:
        runner.bus.subscribe(lambda e: seen.append(str(e.metadata.get("text", ""))), "agent_output")
        await wait_until(lambda: _pids(seen))
        pids.extend(_pids(seen))
        assert len(alive(pids)) == 2  # both running before the cancel
        runner.cancel("stubborn")

    runner, events = run_spec(spec, tmp_path, controller=cancel_when_ready)
    assert status_of(events, "stubborn") == "cancelled"
    leader = pids[0]
    assert alive(pids) == []
    assert group_members(leader) == []
    info = of_type(events, "agent_info", "stubborn")[0].metadata
    assert info["pid"] == leader


def test_pause_stops_every_process_and_resume_continues(tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    body = script(tmp_path, "ticker.py", TICKER)
    spec = loaded([{"id": "ticker", "command": {"argv": [PY, body, str(stop)]}}])
    lines: list[str] = []
    observed: dict[str, object] = {}

    async def pause_then_resume(runner: Runner) -> None:
        runner.bus.subscribe(lambda e: lines.append(str(e.metadata.get("text", ""))), "agent_output")
        await wait_until(lambda: _pids(lines) and _ticks(lines) >= 2)
        pids = _pids(lines)
        members = group_members(pids[0])
        assert set(pids) <= set(members)
        assert runner.pause("ticker")
        await wait_until(lambda: all((proc_stat(p) or ("?",))[0] == "T" for p in members))
        observed["paused_states"] = [proc_stat(p) for p in members]
        assert runner.resume("ticker")
        await wait_until(lambda: all((proc_stat(p) or ("?",))[0] != "T" for p in members))
        ticks_at_resume = _ticks(lines)
        await wait_until(lambda: _ticks(lines) > ticks_at_resume + 1)  # it runs on
        observed["members"] = members
        stop.write_text("stop")

    runner, events = run_spec(spec, tmp_path, controller=pause_then_resume)
    assert status_of(events, "ticker") == "completed"
    assert "done" in outputs(events, "ticker")
    assert all(st is not None and st[0] == "T" for st in observed["paused_states"])  # type: ignore[union-attr]
    assert of_type(events, "agent_paused", "ticker") and of_type(events, "agent_resumed", "ticker")
    assert alive(observed["members"]) == []  # type: ignore[arg-type]


def test_cancel_while_paused_leaves_nothing_stopped_or_alive(tmp_path: Path) -> None:
    body = script(tmp_path, "stubborn.py", STUBBORN)
    spec = loaded([{"id": "frozen", "command": {"argv": [PY, body], "grace_seconds": 0.3}}])
    seen: list[str] = []
    pids: list[int] = []

    async def pause_then_cancel(runner: Runner) -> None:
        runner.bus.subscribe(lambda e: seen.append(str(e.metadata.get("text", ""))), "agent_output")
        await wait_until(lambda: _pids(seen))
        pids.extend(_pids(seen))
        runner.pause("frozen")
        await wait_until(lambda: all((proc_stat(p) or ("?",))[0] == "T" for p in pids))
        runner.cancel("frozen")

    _, events = run_spec(spec, tmp_path, controller=pause_then_cancel)
    assert status_of(events, "frozen") == "cancelled"
    assert alive(pids) == []
    assert group_members(pids[0]) == []


def test_a_paused_agent_that_starts_later_starts_stopped_then_runs(tmp_path: Path) -> None:
    """Pause lands on a queued agent; its process must not run until resumed."""
    stop = tmp_path / "stop"
    body = script(tmp_path, "ticker.py", TICKER)
    spec = loaded(
        [
            {"id": "gate", "emits": ["gate_open"], "command": {"argv": [PY, "-c", "import time; time.sleep(0.3); print('::oneie event gate_open')"]}},
            {"id": "late", "after": ["gate_open"], "command": {"argv": [PY, body, str(stop)]}},
        ]
    )
    lines: list[str] = []

    async def control(runner: Runner) -> None:
        runner.bus.subscribe(lambda e: lines.append(str(e.metadata.get("text", ""))) if e.actor == "late" else None, "agent_output")
        await wait_until(lambda: runner.agents["late"].status == "waiting")
        assert runner.pause("late")
        await wait_until(lambda: runner.agents["gate"].status == "completed")
        await anyio.sleep(0.5)
        assert _ticks(lines) == 0  # paused before it began: nothing ran
        assert runner.resume("late")
        await wait_until(lambda: _ticks(lines) >= 2)
        stop.write_text("stop")

    _, events = run_spec(spec, tmp_path, controller=control)
    assert status_of(events, "late") == "completed"


def test_ctrl_c_of_a_headless_run_leaves_no_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    body = script(tmp_path, "stubborn.py", STUBBORN)
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(
        spec_text([{"id": "stubborn", "command": {"argv": [PY, body, str(pidfile)], "grace_seconds": 0.3}}])
    )
    env = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "oneie_tui", "run", str(spec_file), "--headless", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() or not pidfile.read_text():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        pids = [int(x) for x in pidfile.read_text().split()[1:]]
        assert len(alive(pids)) == 2
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert alive(pids) == []
    assert group_members(pids[0]) == []
    assert '"agent_cancelled"' in out


def test_children_left_behind_by_a_finished_command_are_ended(tmp_path: Path) -> None:
    body = script(
        tmp_path,
        "leave.py",
        """
        import subprocess
        child = subprocess.Popen(["sleep", "1000"])   # still holds our stdout
        print(f"pids {child.pid}", flush=True)
        """,
    )
    spec = loaded([{"id": "leaver", "command": {"argv": [PY, body]}}])
    _, events = run_spec(spec, tmp_path)
    assert status_of(events, "leaver") == "completed"
    orphan = _pids(outputs(events, "leaver"))
    assert orphan and alive(orphan) == []


def test_an_agent_timeout_ends_its_whole_group(tmp_path: Path) -> None:
    body = script(tmp_path, "stubborn.py", STUBBORN)
    spec = loaded([{"id": "slow", "timeout": 1.0, "command": {"argv": [PY, body], "grace_seconds": 0.2}}])
    runner, events = run_spec(spec, tmp_path)
    assert status_of(events, "slow") == "failed" and "timed out" in runner.agents["slow"].reason
    pids = _pids(outputs(events, "slow"))
    assert pids and alive(pids) == [] and group_members(pids[0]) == []
