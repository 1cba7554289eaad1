"""Cancel one of eight: eight `command` agents stream and each spawns a streaming child;
one is cancelled through the runner. Within 2 s it is `cancelled` and none of its processes
remain (checked in /proc); the other seven finish normally (issue 7, item 2).

The 2 s is the guarantee itself, asserted as the issue states it; the measured figure is
printed (pytest -s) and recorded in docs/reliability.md."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from oneie_tui.engine.runner import Runner
from tests.fakes.process_tools import (
    PY,
    alive,
    group_members,
    loaded,
    run_spec,
    status_of,
    wait_until,
)
from tests.reliability.helpers import read_pids, write_streamer

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

VICTIM = "agent-3"
GUARANTEE_S = 2.0


@pytest.mark.parametrize(
    ("grace", "victim_mode"),
    [
        (None, "polite"),  # the default grace; every process exits on SIGTERM
        (None, "stubborn"),  # the default grace; the child ignores SIGTERM: SIGKILL after it
        (1.0, "stubborn"),
    ],
)
def test_cancel_one_of_eight_command_agents(tmp_path: Path, grace: float | None, victim_mode: str) -> None:
    streamer = write_streamer(tmp_path)
    pid_files = {f"agent-{i}": tmp_path / f"agent-{i}.pids" for i in range(8)}
    agents = []
    for agent_id, pid_file in pid_files.items():
        argv = [PY, str(streamer), str(pid_file), "4.5"]  # long enough that the others outlive the cancel
        if agent_id == VICTIM:
            argv.append(victim_mode)
        command: dict[str, Any] = {"argv": argv}
        if grace is not None:
            command["grace_seconds"] = grace
        agents.append({"id": agent_id, "command": command})
    spec = loaded(agents, on_failure="continue")
    measured: dict[str, Any] = {}

    async def cancel_victim(runner: Runner) -> None:
        streaming: set[str] = set()  # agents whose child has printed (its handlers are set)
        runner.bus.subscribe(
            lambda e: streaming.add(e.actor) if str(e.metadata.get("text", "")).startswith("child line") else None,
            "agent_output",
        )
        await wait_until(lambda: len(streaming) == 8, timeout=30)
        await wait_until(lambda: runner.agents[VICTIM].status == "running")
        pids = read_pids(pid_files[VICTIM])
        assert len(alive(pids)) == 2, "the victim and its child run before the cancel"
        start = time.monotonic()
        assert runner.cancel(VICTIM)
        await wait_until(lambda: runner.agents[VICTIM].status == "cancelled", timeout=10)
        measured["seconds"] = time.monotonic() - start
        # At the moment it reads `cancelled`, nothing of it is left.
        measured["alive"] = alive(pids)
        measured["group"] = group_members(pids[0])
        measured["others"] = {a: s.status for a, s in runner.agents.items() if a != VICTIM}

    runner, events = run_spec(spec, tmp_path, controller=cancel_victim)
    print(f"cancel ({victim_mode}, grace {grace}s): {measured['seconds']:.3f}s")
    assert measured["seconds"] < GUARANTEE_S, measured
    assert measured["alive"] == [] and measured["group"] == [], measured
    # The other seven were still running when the victim ended, and then finished normally.
    assert all(s == "running" for s in measured["others"].values()), measured
    assert status_of(events, VICTIM) == "cancelled"
    for agent_id in pid_files:
        if agent_id != VICTIM:
            assert status_of(events, agent_id) == "completed", agent_id
            lines = [e.metadata.get("text") for e in events if e.actor == agent_id and e.type == "agent_output"]
            assert "done" in lines and any(str(t).startswith("child line") for t in lines)
    for pid_file in pid_files.values():
        assert alive(read_pids(pid_file)) == []
