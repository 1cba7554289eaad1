"""Helpers for the history, replay, report, import and resume tests: record real runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.events import Event
from oneie_tui.spec.loader import load_spec
from oneie_tui.store.sqlite import RunStore
from oneie_tui.views.run_view import RunView

SPECS = Path(__file__).resolve().parent.parent / "specs"


def record_run(
    store_path: Path, spec: str = "workflow", *, speed: float = 20.0, seed: int | None = None
) -> tuple[str, RunView]:
    """Run a bundled spec with sim agents into the store at `store_path`. Returns the run id
    and the live `RunView` (folded from the bus as the dashboard does)."""
    loaded = load_spec(SPECS / f"{spec}.toml")
    store = RunStore(store_path)
    try:
        runner = build_runner(loaded, RunOptions(speed=speed, seed=seed), store)
        view = RunView.for_spec(loaded.spec, runner.run_id)
        runner.bus.subscribe(view.apply)
        anyio.run(runner.run)
    finally:
        store.close()
    return runner.run_id, view


T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


def ideal_events(spec: str, run_id: str, t0: float = T0, lines: int = 6) -> list[Event]:
    """The events a bundled spec's sim run would publish on an ideal clock: every agent
    starts the moment its awaited events fire and takes exactly its `sim.duration`. Fixed
    timestamps, so pictures of replays and Gantt charts are deterministic."""
    loaded = load_spec(SPECS / f"{spec}.toml").spec
    items: list[tuple[float, int, str, str, dict[str, Any]]] = []

    def add(t: float, order: int, kind: str, actor: str = "runner", **md: Any) -> None:
        items.append((t, order, kind, actor, md))

    ids = [a.id for a in loaded.agents]
    add(0.0, 0, "run_started", spec=loaded.feature.name, agents=ids, launch=ids, backend="sim")
    fired: dict[str, float] = {}
    start: dict[str, float] = {}
    pending = list(loaded.agents)
    for a in loaded.agents:
        add(0.0, 1, "agent_queued", a.id, attempt=1)
        if a.after or a.after_any:
            add(0.0, 2, "agent_waiting", a.id, after=list(a.after), after_any=list(a.after_any))
    while pending:
        for a in list(pending):
            if not all(x in fired for x in a.after):
                continue
            if a.after_any and not any(x in fired for x in a.after_any):
                continue
            t = max([0.0, *(fired[x] for x in a.after)])
            if a.after_any:
                t = max(t, min(fired[x] for x in a.after_any if x in fired))
            start[a.id] = t
            d = a.sim.duration
            spread = [e for e in a.emits if e not in a.sim.events]
            for i, name in enumerate(spread):
                fired.setdefault(name, t + d * (i + 1) / len(spread))
            for name, at in a.sim.events.items():
                fired.setdefault(name, t + min(at, d))
            pending.remove(a)
    things = loaded.feature.ontology.things or [loaded.feature.name]
    for a in loaded.agents:
        t, d = start[a.id], a.sim.duration
        add(t, 3, "agent_started", a.id, attempt=1, backend="sim")
        add(t, 4, "agent_progress", a.id, percent=0.0, note="started")
        for i in range(lines):
            add(t + d * (i + 0.5) / lines, 5, "agent_output", a.id,
                text=f"{a.role or 'agent'}: working on {things[i % len(things)]} ({i + 1})")
        for step in range(1, 11):
            add(t + d * step / 10, 6, "agent_progress", a.id, percent=float(step * 10))
        for name in a.emits:
            add(fired[name], 7, "task_event", a.id, action=name, by=a.id)
        add(t + d, 8, "agent_completed", a.id, attempt=1,
            summary=f"{a.role or 'agent'} finished: {a.task}")
    items.sort(key=lambda it: (it[0], it[1]))
    events = [
        Event(i + 1, run_id, t0 + t, kind, actor, "", "", md)
        for i, (t, _, kind, actor, md) in enumerate(items)
    ]
    end = events[-1].ts
    from oneie_tui.views.metrics import compute

    summary = {"run_id": run_id, "status": "completed", **compute(events, end).to_dict()}
    events.append(Event(len(events) + 1, run_id, end, "run_finished", "runner", "", "", summary))
    return events


def store_ideal_run(store: RunStore, spec: str, run_id: str, t0: float = T0) -> list[Event]:
    """Put an ideal run (see `ideal_events`) into the store as a finished run."""
    events = ideal_events(spec, run_id, t0)
    text = (SPECS / f"{spec}.toml").read_text(encoding="utf-8")
    summary = dict(events[-1].metadata)
    store.create_run(run_id, str(events[0].metadata["spec"]), text, f"specs/{spec}.toml", t0)
    store.insert_events(events)
    store.finish_run(run_id, events[-1].ts, "completed", summary)
    return events
