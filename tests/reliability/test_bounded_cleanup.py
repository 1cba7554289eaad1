"""Bounded, shielded cleanup: cancelling while cleanup is under way, at moments chosen by
hypothesis, still ends every process within cleanup's own time limit (issue 7, item 4).

Cleanup of a process group is SIGCONT, SIGTERM, a grace period, then SIGKILL until none is
left (`ProcessGroup.terminate`), in a shielded scope bounded by grace + KILL_WAIT + 1 s,
then closing the pipes (bounded by 1 s). The runner's own end (`Runner._finish`: the last
events and the store's `ended`) is shielded too. The children here ignore SIGTERM, so
cleanup always has to go the whole way to SIGKILL."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oneie_tui.agents.base import BackendOptions
from oneie_tui.agents.procgroup import KILL_WAIT_SECONDS, ProcessGroup
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.store.sqlite import RunStore
from tests.fakes.process_tools import PY, alive, group_members, loaded
from tests.reliability.helpers import read_pids, write_streamer

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

GRACE = 0.4
# terminate's own bound (grace + KILL_WAIT + 1 s) plus the pipe close (1 s).
CLEANUP_LIMIT = GRACE + KILL_WAIT_SECONDS + 1.0 + 1.0
FAST = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))


async def _ready_group(tmp: Path, name: str) -> tuple[ProcessGroup, list[int], anyio.abc.TaskGroup | None]:
    streamer = write_streamer(tmp)
    pid_file = tmp / f"{name}.pids"
    group = await ProcessGroup.start([sys.executable, str(streamer), str(pid_file), "30", "stubborn"])
    # Wait until the child prints: from then on it ignores SIGTERM.
    buffer = b""
    with anyio.fail_after(20):
        while b"child line" not in buffer:
            buffer += await group.stdout.receive()
    return group, read_pids(pid_file), None


@FAST
@given(
    first=st.floats(min_value=0.0, max_value=GRACE + 0.6),
    second=st.one_of(st.none(), st.floats(min_value=0.0, max_value=GRACE + 0.6)),
)
def test_process_group_cleanup_survives_cancels_at_any_moment(
    tmp_path_factory: pytest.TempPathFactory, first: float, second: float | None
) -> None:
    tmp = tmp_path_factory.mktemp("cleanup")
    result: dict[str, Any] = {}

    async def main() -> None:
        group, pids, _ = await _ready_group(tmp, "g")
        assert len(alive(pids)) == 2
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as outer:

                async def canceller() -> None:
                    await anyio.sleep(first)
                    outer.cancel()  # the cleanup's caller is cancelled mid-cleanup...
                    if second is not None:
                        await anyio.sleep(second)
                        outer.cancel()  # ...and cancelled again, during the grace period
                        tg.cancel_scope.cancel()

                tg.start_soon(canceller)
                await group.shutdown(GRACE)
            result["seconds"] = time.monotonic() - start
            result["alive"] = alive(pids)
            result["group"] = group_members(pids[0])
            result["ended"] = group.ended
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert result["alive"] == [] and result["group"] == [], result
    assert result["ended"], result
    assert result["seconds"] <= CLEANUP_LIMIT, result


@FAST
@given(
    delay=st.floats(min_value=0.0, max_value=GRACE + 0.6),
    how=st.sampled_from(["cancel_again", "cancel_run", "interrupt_run", "cancel_caller"]),
)
def test_runner_cleanup_survives_a_second_cancel(
    tmp_path_factory: pytest.TempPathFactory, delay: float, how: str
) -> None:
    """Cancel one agent, then during its cleanup cancel again / cancel the run / cancel the
    task running the runner (as an app quitting would): every process still ends within
    the limit, and the run is still recorded as ended in the store."""
    tmp = tmp_path_factory.mktemp("runner-cleanup")
    streamer = write_streamer(tmp)
    pid_files = {a: tmp / f"{a}.pids" for a in ("victim", "other")}
    spec = loaded(
        [
            {"id": a, "command": {"argv": [PY, str(streamer), str(p), "30", "stubborn"], "grace_seconds": GRACE}}
            for a, p in pid_files.items()
        ],
        on_failure="continue",
    )
    store = RunStore(tmp / "runs.sqlite3")
    runner = build_runner(spec, RunOptions(backend_options=BackendOptions(project_dir=str(tmp))), store)
    ready: set[str] = set()
    runner.bus.subscribe(
        lambda e: ready.add(e.actor) if str(e.metadata.get("text", "")).startswith("child line") else None,
        "agent_output",
    )
    result: dict[str, Any] = {}

    async def control(caller: anyio.CancelScope) -> None:
        with anyio.fail_after(30):
            while len(ready) < 2:
                await anyio.sleep(0.02)
        result["pids"] = [pid for p in pid_files.values() for pid in read_pids(p)]
        result["start"] = time.monotonic()
        runner.cancel("victim")
        await anyio.sleep(delay)
        if how == "cancel_again":
            runner.cancel("victim", "second cancel")
            runner.cancel("other")
        elif how == "cancel_run":
            runner.cancel_run("cancelled during cleanup")
        elif how == "interrupt_run":
            runner.cancel_run("SIGTERM during cleanup", interrupted=True)
        else:
            caller.cancel()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as caller:
                tg.start_soon(control, caller)
                await runner.run()
            result["seconds"] = time.monotonic() - result["start"]
            tg.cancel_scope.cancel()

    anyio.run(main)
    pids = result["pids"]
    assert len(pids) == 4
    assert alive(pids) == [], (how, delay)
    # The first cleanup (victim) and the second (the rest) each stay within the limit;
    # they overlap, so the whole cannot take longer than delay + one limit.
    assert result["seconds"] <= delay + CLEANUP_LIMIT, result
    row = store.get_run(runner.run_id)
    assert row.status != "running" and row.ended is not None, (how, row.status)
    assert runner.agents["victim"].status == "cancelled"
    store.close()
