"""Metrics on hand-written schedules whose figures are known exactly."""

from __future__ import annotations

from typing import Any

import pytest

from oneie_tui.events import Event
from oneie_tui.views.metrics import MetricsBuilder, compute

T0 = 1_700_000_000.0


class Log:
    """Builds an event log: `at(t, type, actor, **metadata)` with t in seconds."""

    def __init__(self, agents: list[str]) -> None:
        self.events: list[Event] = []
        self.at(0.0, "run_started", "runner", agents=agents)

    def at(self, t: float, kind: str, actor: str, **metadata: Any) -> Log:
        self.events.append(Event(len(self.events) + 1, "r", T0 + t, kind, actor, metadata=metadata))
        return self

    def span(self, actor: str, start: float, end: float, *, status: str = "completed",
             after: list[str] | None = None, emits: dict[str, float] | None = None) -> Log:
        self.at(start, "agent_queued", actor, attempt=1)
        if after:
            self.at(start, "agent_waiting", actor, after=after, after_any=[])
        self.at(start, "agent_started", actor)
        for action, t in (emits or {}).items():
            self.at(t, "task_event", actor, action=action)
        return self.at(end, f"agent_{status}", actor)

    def done(self, t: float) -> list[Event]:
        self.at(t, "run_finished", "runner")
        return sorted(self.events, key=lambda e: (e.ts, e.seq))


def test_pattern_1_backend_frontend_quality() -> None:
    log = Log(["b", "f", "q"])
    log.span("b", 0, 2).span("f", 0, 2).span("q", 0, 1)
    m = compute(log.done(2))
    assert m.wall_s == pytest.approx(2.0)
    assert m.sequential_s == pytest.approx(5.0)
    assert m.speedup == pytest.approx(2.5)
    assert m.utilization == pytest.approx(5 / 6)
    assert m.critical_path_s == pytest.approx(2.0)
    assert m.ideal_speedup == pytest.approx(2.5)
    assert m.agents["q"].started_s == 0 and m.agents["q"].ended_s == pytest.approx(1.0)


def test_sequential_schedule_has_speedup_one() -> None:
    log = Log(["b", "f", "q"])
    log.span("b", 0, 2).span("f", 2, 4).span("q", 4, 5)
    m = compute(log.done(5))
    assert m.wall_s == pytest.approx(5.0)
    assert m.speedup == pytest.approx(1.0)
    assert m.utilization == pytest.approx(1 / 3)
    # No `after`: the critical path is the longest single agent, and the ideal is 2.5x.
    assert m.critical_path_s == pytest.approx(2.0)
    assert m.ideal_speedup == pytest.approx(2.5)


def test_critical_path_through_after_uses_active_offsets() -> None:
    # The reference's workflow: schema_ready at 0.5 starts f (2) and i (1);
    # q (1) waits for ui_ready and integration_ready; d (1) needs nothing.
    log = Log(["b", "f", "i", "d", "q"])
    log.span("b", 0, 2, emits={"schema_ready": 0.5, "backend_ready": 2})
    log.span("d", 0, 1)
    log.span("f", 0.5, 2.5, after=["schema_ready"], emits={"ui_ready": 2.5})
    log.span("i", 0.5, 1.5, after=["schema_ready"], emits={"integration_ready": 1.5})
    log.span("q", 2.5, 3.5, after=["ui_ready", "integration_ready"])
    m = compute(log.done(3.5))
    assert m.sequential_s == pytest.approx(7.0)
    assert m.wall_s == pytest.approx(3.5)
    assert m.speedup == pytest.approx(2.0)
    assert m.critical_path_s == pytest.approx(3.5)
    assert m.critical_path == ["b", "f", "q"]
    assert m.ideal_speedup == pytest.approx(2.0)


def test_active_time_excludes_pauses_and_waits() -> None:
    log = Log(["a"])
    log.at(0, "agent_queued", "a", attempt=1).at(0, "agent_started", "a")
    log.at(1, "agent_paused", "a").at(4, "agent_resumed", "a", status="running")
    log.at(5, "agent_waiting", "a", waiting_for=["x_ready"]).at(7, "agent_resumed", "a", after_wait=True)
    log.at(8, "agent_completed", "a")
    m = compute(log.done(8))
    assert m.agents["a"].active_s == pytest.approx(3.0)  # 0-1, 4-5, 7-8
    assert m.wall_s == pytest.approx(8.0)
    assert m.utilization == pytest.approx(3 / 8)


def test_a_paused_waiting_agent_resumes_to_waiting_not_running() -> None:
    log = Log(["a"])
    log.at(0, "agent_queued", "a", attempt=1).at(0, "agent_waiting", "a", after=["x_ready"])
    log.at(1, "agent_paused", "a", **{"from": "waiting"}).at(2, "agent_resumed", "a", status="waiting")
    log.at(5, "agent_started", "a").at(6, "agent_completed", "a")
    m = compute(log.done(6))
    assert m.agents["a"].active_s == pytest.approx(1.0)


def test_restart_counts_both_attempts() -> None:
    log = Log(["a"])
    log.span("a", 0, 1, status="cancelled")
    log.span("a", 1, 3)
    m = compute(log.done(3))
    assert m.agents["a"].attempts == 2
    assert m.agents["a"].active_s == pytest.approx(3.0)
    assert m.agents["a"].status == "completed"


def test_tokens_and_cost_add_up() -> None:
    log = Log(["a", "b"])
    log.span("a", 0, 1).span("b", 0, 1)
    log.at(0.5, "usage", "a", input_tokens=100, output_tokens=20, cache_write_tokens=1000,
           cache_read_tokens=0, cost_usd=0.01)
    log.at(0.6, "usage", "b", input_tokens=5, output_tokens=7, cache_write_tokens=0,
           cache_read_tokens=1000, cost_usd=0.002)
    m = compute(log.done(1))
    u = m.usage
    assert (u.input_tokens, u.output_tokens, u.cache_write_tokens, u.cache_read_tokens) == (105, 27, 1000, 1000)
    assert m.cost_usd == pytest.approx(0.012)
    assert m.agents["b"].usage.cache_read_tokens == 1000


def test_live_metrics_count_open_spans_up_to_now() -> None:
    builder = MetricsBuilder()
    builder.add(Event(1, "r", T0, "run_started", "runner", metadata={"agents": ["a", "b"]}))
    builder.add(Event(2, "r", T0, "agent_started", "a"))
    builder.add(Event(3, "r", T0, "agent_started", "b"))
    m = builder.result(T0 + 2.0)
    assert m.wall_s == pytest.approx(2.0)
    assert m.sequential_s == pytest.approx(4.0)
    assert m.speedup == pytest.approx(2.0)


def test_a_resumed_run_adds_its_spans() -> None:
    # First process: 0-2, died (no run_finished); second process: 10-11.
    log = Log(["a"])
    log.at(0, "agent_queued", "a", attempt=1).at(0, "agent_started", "a").at(2, "agent_output", "a", text="x")
    log.at(10, "run_started", "runner", agents=["a"], resumed=True)
    log.at(10, "agent_queued", "a", attempt=2).at(10, "agent_started", "a").at(11, "agent_completed", "a")
    m = compute(log.done(11))
    assert m.wall_s == pytest.approx(3.0)
    assert m.agents["a"].active_s == pytest.approx(3.0)


def test_empty_log() -> None:
    m = compute([])
    assert (m.wall_s, m.speedup, m.utilization, m.critical_path_s) == (0.0, 0.0, 0.0, 0.0)
