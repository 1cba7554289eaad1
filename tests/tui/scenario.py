"""Recorded event lists with fixed timestamps, for deterministic dashboard pictures.

They have the shape the runner publishes (see oneie_tui/engine/runner.py), written out by hand so
a snapshot never depends on scheduling. `T0` is a fixed epoch; the app gets a fixed clock.
"""

from __future__ import annotations

from typing import Any

from oneie_tui.events import Event

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
RUN_ID = "20260101-000000-abc123"
CRUD = ["agent-backend", "agent-frontend", "agent-quality"]


class Script:
    def __init__(self, run_id: str = RUN_ID) -> None:
        self.run_id = run_id
        self.events: list[Event] = []

    def add(self, t: float, type: str, actor: str = "runner", **metadata: Any) -> Script:
        self.events.append(
            Event(len(self.events) + 1, self.run_id, T0 + t, type, actor, metadata=metadata)
        )
        return self

    def start(self, t: float, agents: list[str], spec: str) -> Script:
        self.add(t, "run_started", spec=spec, agents=agents, launch=agents, backend="sim")
        for a in agents:
            self.add(t, "agent_queued", a, attempt=1)
        return self

    def run_agent(self, t: float, agent: str) -> Script:
        return self.add(t, "agent_started", agent, attempt=1, backend="sim")

    def lines(self, t0: float, t1: float, agent: str, texts: list[str]) -> Script:
        step = (t1 - t0) / max(1, len(texts))
        for i, text in enumerate(texts):
            self.add(t0 + i * step, "agent_output", agent, text=text, stream="stdout")
        return self

    def progress(self, t: float, agent: str, percent: float) -> Script:
        return self.add(t, "agent_progress", agent, percent=percent)

    def emit(self, t: float, agent: str, action: str) -> Script:
        return self.add(t, "task_event", agent, action=action, by=agent)

    def usage(self, t: float, agent: str, inp: int, out: int, cost: float) -> Script:
        return self.add(t, "usage", agent, input_tokens=inp, output_tokens=out, cost_usd=cost)


def crud_halfway() -> Script:
    """course-crud about 1.2 s into its 2 s: quality done, backend past schema_ready."""
    s = Script().start(0.0, CRUD, "Course CRUD")
    for a in CRUD:
        s.run_agent(0.01, a)
    s.lines(0.05, 1.2, "agent-backend", [f"Defining table course ({i})" if i % 2 else f"Writing mutation lesson ({i})" for i in range(1, 9)])
    s.lines(0.06, 1.2, "agent-frontend", [f"Rendering list of course ({i})" if i % 3 else f"Building form for lesson ({i})" for i in range(1, 8)])
    s.lines(0.07, 0.95, "agent-quality", [f"Writing test for course ({i})" for i in range(1, 6)])
    s.usage(0.4, "agent-backend", 1200, 340, 0.0087)
    s.usage(0.5, "agent-frontend", 900, 410, 0.0075)
    s.usage(0.6, "agent-quality", 600, 220, 0.0041)
    s.progress(0.2, "agent-quality", 20).progress(0.6, "agent-quality", 60)
    s.emit(0.6, "agent-backend", "schema_ready")
    s.progress(0.6, "agent-backend", 30).progress(1.2, "agent-backend", 60)
    s.progress(0.8, "agent-frontend", 40).progress(1.2, "agent-frontend", 60)
    s.progress(1.0, "agent-quality", 100)
    s.emit(1.0, "agent-quality", "tests_defined")
    s.add(1.0, "agent_completed", "agent-quality", attempt=1, summary="quality finished")
    return s


def crud_paused() -> Script:
    s = crud_halfway()
    s.add(1.25, "agent_paused", "agent-frontend")
    return s


def failure_cascade() -> Script:
    """failure-cascade.toml: the backend fails at 1 s; the rest are cancelled."""
    s = Script(run_id="20260101-000000-fail01").start(0.0, CRUD, "Schema migration gone wrong")
    s.run_agent(0.01, "agent-backend").run_agent(0.01, "agent-frontend")
    s.add(0.01, "agent_waiting", "agent-quality", after=["backend_ready", "frontend_ready"], after_any=[])
    s.lines(0.05, 0.95, "agent-backend", [f"Defining table course ({i})" for i in range(1, 6)])
    s.lines(0.06, 0.95, "agent-frontend", [f"Rendering list of course ({i})" for i in range(1, 6)])
    s.progress(0.5, "agent-backend", 25).progress(0.5, "agent-frontend", 25)
    err = "schema migration failed: column group_id missing"
    s.add(1.0, "agent_failed", "agent-backend", attempt=1, reason=err)
    s.add(1.0, "task_event", "agent-backend", action="task_failed", error=err, shouldCancelParallel=True)
    cascade = f"cascade: agent-backend failed ({err})"
    s.add(1.01, "agent_cancelled", "agent-frontend", attempt=1, reason=cascade)
    s.add(1.01, "agent_cancelled", "agent-quality", attempt=1, reason=cascade)
    s.add(1.02, "run_finished", status="failed", wall_s=1.02, speedup=1.96)
    return s
