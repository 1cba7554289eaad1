"""Honest clocks (issue 14, item 3): a process agent's active time runs from its process's
start to its exit, not from the runner's request to the end of its cleanup."""

from __future__ import annotations

from pathlib import Path

from oneie_tui.events import Event
from oneie_tui.views.metrics import MetricsBuilder
from tests.fakes.process_tools import loaded, of_type, run_spec

T0 = 1_000_000.0


def _fold(*events: tuple[float, str, dict[str, object]]) -> MetricsBuilder:
    builder = MetricsBuilder()
    builder.add(Event(1, "r", T0, "run_started", "runner", metadata={"agents": ["a"]}))
    for seq, (t, kind, meta) in enumerate(events, start=2):
        builder.add(Event(seq, "r", T0 + t, kind, "a", metadata=dict(meta)))
    builder.add(Event(99, "r", T0 + 9, "run_finished", "runner"))
    return builder


def test_active_time_is_process_start_to_exit() -> None:
    builder = _fold(
        (0.0, "agent_started", {}),
        (1.75, "agent_info", {"pid": 42, "process_started": True, "started_s_ago": 0.25}),  # forked at 1.5 s
        (3.5, "agent_info", {"process_exited": True, "exit_code": 0}),
        (6.0, "agent_completed", {}),  # draining and cleaning up took 2.5 s more
    )
    m = builder.result(T0 + 9).agents["a"]
    assert m.active_s == 2.0
    running = [s for s in m.segments if s.state == "running"]
    assert [(s.start, s.end) for s in running] == [(1.5, 3.5)]


def test_info_without_a_process_changes_nothing() -> None:
    builder = _fold(
        (0.0, "agent_started", {}),
        (1.0, "agent_info", {"session_id": "x"}),
        (4.0, "agent_completed", {}),
    )
    assert builder.result(T0 + 9).agents["a"].active_s == 4.0


def test_a_command_agent_reports_its_process_start_and_exit(tmp_path: Path) -> None:
    spec = loaded([{"id": "a", "command": {"argv": ["sleep", "0.3"]}}])
    runner, events = run_spec(spec, tmp_path)
    infos = of_type(events, "agent_info", "a")
    started = [e for e in infos if e.metadata.get("process_started")]
    exited = [e for e in infos if e.metadata.get("process_exited")]
    assert len(started) == 1 and len(exited) == 1 and exited[0].metadata["exit_code"] == 0
    active = runner.metrics.result(events[-1].ts).agents["a"].active_s
    start = started[0].ts - started[0].metadata["started_s_ago"]
    assert abs(active - (exited[0].ts - start)) < 1e-6
    assert 0.3 <= active < 0.6
