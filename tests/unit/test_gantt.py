"""The Gantt model (lanes, markers, critical path) and its drawing at 80 and 160 columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from oneie_tui.events import Event
from oneie_tui.store.sqlite import RunStore
from oneie_tui.views.gantt_lanes import (
    CRITICAL_GLYPH,
    GLYPH,
    MARKER_GLYPH,
    Bar,
    build_gantt,
    gantt_from_events,
    gantt_from_view,
    gantt_plain,
    render_gantt,
)
from oneie_tui.views.metrics import compute
from oneie_tui.views.run_view import RunView
from tests.history_support import record_run

T0 = 1_000.0


def ev(seq: int, t: float, type_: str, actor: str = "runner", **md: object) -> Event:
    return Event(seq, "r1", T0 + t, type_, actor, "", "", dict(md))


def scripted() -> list[Event]:
    """a runs 0-2, pauses 2-3, runs 3-5 and fires x at 1; b waits for x, runs 1-4.5;
    c runs 0-2 and fails."""
    return [
        ev(1, 0.0, "run_started", agents=["a", "b", "c"]),
        ev(2, 0.0, "agent_queued", "a", attempt=1),
        ev(3, 0.0, "agent_queued", "b", attempt=1),
        ev(4, 0.0, "agent_queued", "c", attempt=1),
        ev(5, 0.0, "agent_waiting", "b", after=["x"], after_any=[]),
        ev(6, 0.0, "agent_started", "a"),
        ev(7, 0.0, "agent_started", "c"),
        ev(8, 1.0, "task_event", "a", action="x"),
        ev(9, 1.0, "agent_started", "b"),
        ev(10, 2.0, "agent_paused", "a"),
        ev(11, 2.0, "agent_failed", "c", reason="boom"),
        ev(12, 3.0, "agent_resumed", "a"),
        ev(13, 4.5, "agent_completed", "b"),
        ev(14, 5.0, "agent_completed", "a"),
        ev(15, 5.0, "run_finished", status="failed"),
    ]


def test_lanes_markers_and_critical_path() -> None:
    events = scripted()
    model = gantt_from_events(events)
    lanes = {lane.agent: lane for lane in model.lanes}
    assert [b for b in lanes["a"].bars if b.state != "queued"] == [
        Bar(0.0, 2.0, "running"), Bar(2.0, 3.0, "paused"), Bar(3.0, 5.0, "running"),
        Bar(5.0, 5.0, "completed"),
    ]
    assert [b.state for b in lanes["b"].bars] == ["queued", "waiting", "running", "completed"]
    assert lanes["c"].status == "failed"
    assert [(m.t, m.action, m.agent) for m in model.markers] == [(1.0, "x", "a")]
    assert lanes["a"].markers == model.markers and lanes["b"].markers == []
    assert model.critical_path == ["a", "b"]
    assert lanes["a"].critical and lanes["a"].critical_until == 1.0
    assert lanes["b"].critical and lanes["b"].critical_until is None
    assert not lanes["c"].critical
    assert model.sequential_s == pytest.approx(4.0 + 3.5 + 2.0)
    assert model.wall_s == pytest.approx(5.0)
    assert model.speedup == pytest.approx(9.5 / 5.0)
    assert model.span_s == pytest.approx(5.0)


def lane_line(text: str, agent: str) -> str:
    return next(line for line in text.splitlines() if line[2:].startswith(agent + " "))


@pytest.mark.parametrize("width", [80, 100, 160])
def test_drawing_fits_the_width_and_shows_every_state(width: int) -> None:
    model = gantt_from_events(scripted())
    text = render_gantt(model, width)
    assert all(line.cell_len <= width for line in text.split())
    plain = text.plain
    a, b, c = (lane_line(plain, x) for x in "abc")
    assert a.startswith("★ a") and b.startswith("★ b") and c.startswith("  c")
    bar_a = a[8:]
    # critical until it fired x, then ordinary running; the pause in between
    assert bar_a.index(CRITICAL_GLYPH) < bar_a.index(MARKER_GLYPH) < bar_a.index(GLYPH["running"])
    assert GLYPH["paused"] in bar_a and GLYPH["completed"] in bar_a
    assert b[8:].lstrip(GLYPH["queued"]).startswith(GLYPH["waiting"])
    assert CRITICAL_GLYPH in b and GLYPH["running"] not in b
    assert GLYPH["failed"] in c and CRITICAL_GLYPH not in c and "failed" in c
    assert "done" in a
    assert "speedup 1.90×" in plain
    assert "9.50s" in plain and "5.00s" in plain
    assert "critical path a → b" in plain
    assert f"{MARKER_GLYPH} x 1.00s (a)" in plain


def test_wider_terminals_get_wider_lanes() -> None:
    model = gantt_from_events(scripted())
    narrow = lane_line(gantt_plain(model, 80), "b")
    wide = lane_line(gantt_plain(model, 160), "b")
    assert wide.count(CRITICAL_GLYPH) > 1.8 * narrow.count(CRITICAL_GLYPH)
    # b runs 1.0-4.5 of a 5 s axis: 70% of the cells (names take at least 5 columns
    # plus the star, a space before the lane, 17 columns of status at the right, and one
    # spare cell for the end glyph)
    cells = 160 - (5 + 2) - 1 - 17 - 1
    assert wide.count(CRITICAL_GLYPH) == pytest.approx(cells * 3.5 / 5.0, abs=1.5)


def test_open_segments_run_to_now_mid_run() -> None:
    view = RunView()
    view.apply_all(scripted()[:9])  # b has just started
    model = gantt_from_view(view, now=T0 + 1.5)
    lanes = {lane.agent: lane for lane in model.lanes}
    assert lanes["b"].bars[-1] == Bar(1.0, 1.5, "running")
    assert model.span_s == pytest.approx(1.5)
    assert MARKER_GLYPH in render_gantt(model, 80).plain


def test_sequential_and_parallel_bars_scale_to_each_other(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "course-crud")
    store = RunStore(tmp_path / "runs.sqlite3")
    events = list(store.events(run_id))
    model = gantt_from_events(events)
    metrics = compute(events)
    assert model.speedup == metrics.speedup and model.critical_path == metrics.critical_path
    lines = gantt_plain(model, 80).splitlines()
    seq_line = next(line for line in lines if line.startswith("sequential"))
    par_line = next(line for line in lines if line.startswith("parallel"))
    ratio = seq_line.count("█") / par_line.count("█")
    assert ratio == pytest.approx(metrics.speedup, rel=0.08)
    assert all(len(line) <= 80 for line in lines)


def test_build_gantt_ignores_markers_without_an_origin() -> None:
    model = build_gantt(compute([]), [ev(1, 0.0, "task_event", "a", action="x")], None)
    assert model.lanes == [] and model.markers == []
    Console(width=80, file=open("/dev/null", "w")).print(render_gantt(model, 80))
