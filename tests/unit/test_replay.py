"""Replay: its end state is the live end state; seek and step give the right panels."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest

from oneie_tui.store.sqlite import RunStore
from oneie_tui.views.gantt_lanes import gantt_from_events
from oneie_tui.views.replay_clock import SPEEDS, Replay, speed_label
from oneie_tui.views.run_view import TIMELINE_TYPES, RunView, initial_view
from tests.history_support import record_run


def panels(view: RunView) -> dict[str, dict[str, object]]:
    return {agent_id: a.comparable() for agent_id, a in view.agents.items()}


def fold_prefix(store: RunStore, run_id: str, upto: int) -> RunView:
    """The reference answer: the first `upto` events folded from scratch."""
    view = initial_view(store.get_run(run_id))
    view.apply_all([e for e in store.events(run_id) if e.seq <= upto])
    return view


@pytest.fixture(params=["course-crud", "workflow", "failure-cascade"])
def recorded(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[RunStore, str, RunView]:
    path = tmp_path / "runs.sqlite3"
    run_id, live = record_run(path, request.param)
    store = RunStore(path)
    yield store, run_id, live
    store.close()


def test_replay_end_state_equals_live_end_state(recorded: tuple[RunStore, str, RunView]) -> None:
    store, run_id, live = recorded
    replay = Replay(store, run_id, checkpoint_every=25, page=16)
    replay.to_end()
    assert replay.seq == store.last_seq(run_id)
    assert panels(replay.view) == panels(live)
    assert replay.view.status == live.status
    assert replay.view.metrics().to_dict() == live.metrics().to_dict()
    assert list(replay.view.timeline) == list(live.timeline)


@pytest.mark.parametrize("speed", SPEEDS)
def test_playing_at_each_speed_ends_where_the_live_run_ended(
    tmp_path: Path, speed: float
) -> None:
    run_id, live = record_run(tmp_path / "runs.sqlite3", "workflow")
    store = RunStore(tmp_path / "runs.sqlite3")
    replay = Replay(store, run_id, checkpoint_every=30)
    replay.set_speed(speed)
    replay.play()
    frames = 0
    while replay.playing:
        replay.tick(0.05)  # a 20 fps clock, driven by hand
        frames += 1
        assert frames < 10_000
    assert panels(replay.view) == panels(live)
    assert replay.t == pytest.approx(replay.duration)
    if math.isinf(speed):
        assert frames == 1
    else:
        # the run lasted `duration` seconds: at N× it takes about duration / N of clock
        assert frames >= int(replay.duration / speed / 0.05) - 1


def test_seek_and_step_match_the_fold_of_the_prefix(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "workflow")
    store = RunStore(tmp_path / "runs.sqlite3")
    last = store.last_seq(run_id)
    replay = Replay(store, run_id, checkpoint_every=7, page=5)
    # forward far, back across checkpoints, to the middle, to the start
    for target in (last // 2, 3, last, last - 1, 8, 0, 1, last // 3):
        replay.seek_seq(target)
        expected = fold_prefix(store, run_id, target)
        assert replay.seq == target
        assert panels(replay.view) == panels(expected), target
        assert replay.view.status == expected.status
    # one event at a time, forward then back
    replay.seek_seq(0)
    for k in range(1, 40):
        replay.step(1)
        assert replay.seq == k
        assert panels(replay.view) == panels(fold_prefix(store, run_id, k))
    for k in range(38, 20, -1):
        replay.step(-1)
        assert replay.seq == k
        assert panels(replay.view) == panels(fold_prefix(store, run_id, k))
    replay.seek_seq(1)
    replay.step(-1)
    assert replay.seq == 0
    assert all(a.status == "pending" for a in replay.view.agents.values())
    replay.step(-1)
    assert replay.seq == 0
    replay.seek_seq(last)
    replay.step(1)
    assert replay.seq == last


def test_seek_time_applies_exactly_the_events_up_to_that_time(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "workflow")
    store = RunStore(tmp_path / "runs.sqlite3")
    events = list(store.events(run_id))
    replay = Replay(store, run_id, checkpoint_every=10)
    origin = events[0].ts
    schema = next(e for e in events if e.action == "schema_ready")
    for t in (0.0, schema.ts - origin - 1e-6, schema.ts - origin, replay.duration / 2, replay.duration):
        replay.seek_time(t)
        upto = max((e.seq for e in events if e.ts <= origin + t), default=0)
        assert replay.seq == upto
        assert replay.t == pytest.approx(t)
        assert panels(replay.view) == panels(fold_prefix(store, run_id, upto))
    # The panels as of the schema_ready moment: the frontend is waiting, then running.
    replay.seek_seq(schema.seq - 1)
    assert replay.view.agents["agent-frontend"].status == "waiting"
    assert "schema_ready" not in replay.view.agents["agent-backend"].events_fired
    replay.step(1)
    assert replay.view.agents["agent-backend"].events_fired[0] == "schema_ready"


def test_tick_advances_the_clock_by_speed(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "workflow", speed=4.0)
    store = RunStore(tmp_path / "runs.sqlite3")
    replay = Replay(store, run_id)
    replay.set_speed(4.0)
    replay.play()
    replay.tick(0.05)
    assert replay.t == pytest.approx(0.2)
    assert all(e.ts <= replay.now for e in store.events_range(run_id, 1, replay.seq))
    nxt = store.event_at(run_id, replay.seq + 1)
    assert nxt is not None and nxt.ts > replay.now
    replay.pause()
    assert replay.tick(1.0) is False
    assert replay.t == pytest.approx(0.2)
    assert replay.cycle_speed() == 16.0
    assert speed_label(replay.cycle_speed()) == "instant"
    assert speed_label(replay.cycle_speed()) == "1×"


def test_frames_report_what_changed(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "workflow")
    store = RunStore(tmp_path / "runs.sqlite3")
    replay = Replay(store, run_id)
    replay.take_frame()
    output = next(e for e in store.events(run_id) if e.type == "agent_output")
    replay.seek_seq(output.seq - 1)
    replay.take_frame()
    replay.step(1)
    frame = replay.take_frame()
    assert frame.dirty == {output.actor}
    assert not frame.timeline and not frame.rebuilt
    replay.step(-1)
    assert replay.take_frame().rebuilt


def test_timeline_pages_and_gantt_come_from_the_store(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "workflow")
    store = RunStore(tmp_path / "runs.sqlite3")
    events = list(store.events(run_id))
    replay = Replay(store, run_id)
    middle = events[len(events) // 2].seq
    replay.seek_seq(middle)
    expected = [e for e in events if e.type in TIMELINE_TYPES and e.seq <= middle]
    assert replay.timeline_page(limit=5) == expected[-5:]
    assert replay.timeline_count() == len(expected)
    assert replay.timeline_page(limit=10_000) == list(replay.view.timeline)
    replay.to_end()
    assert replay.gantt() == gantt_from_events(events, replay.now)


def test_index_built_in_a_thread_gives_checkpoints_for_fast_seeks(tmp_path: Path) -> None:
    run_id, live = record_run(tmp_path / "runs.sqlite3", "workflow")
    store = RunStore(tmp_path / "runs.sqlite3")
    replay = Replay(store, run_id, checkpoint_every=10)
    worker = threading.Thread(target=replay.build_index)
    worker.start()
    worker.join()
    last = store.last_seq(run_id)
    assert replay._checkpoint_seqs == [0, *range(10, last + 1, 10)]
    replay.seek_seq(last)
    assert panels(replay.view) == panels(live)


def test_an_empty_run_replays_to_nothing(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    store.create_run("empty-run", "Nothing", "", None, 1000.0)
    replay = Replay(store, "empty-run")
    assert replay.count == 0 and replay.duration == 0.0
    replay.play()
    replay.tick(1.0)
    replay.step(1)
    replay.seek_time(5.0)
    assert replay.seq == 0 and not replay.playing
    assert replay.timeline_page() == []


def test_playing_skips_a_long_silence_but_seeking_reaches_it(tmp_path: Path) -> None:
    from oneie_tui.events import Event

    store = RunStore(tmp_path / "runs.sqlite3")
    store.create_run("gap", "Gap", "", None, 1000.0)
    store.insert_events([
        Event(1, "gap", 1000.0, "run_started", metadata={"agents": ["a"]}),
        Event(2, "gap", 1000.1, "agent_output", "a", metadata={"text": "before"}),
        Event(3, "gap", 1900.0, "run_started", metadata={"agents": ["a"], "resumed": True}),
        Event(4, "gap", 1900.1, "agent_output", "a", metadata={"text": "after"}),
    ])
    replay = Replay(store, "gap")
    replay.play()
    for _ in range(10):
        replay.tick(0.05)
    assert replay.seq == 4 and not replay.playing  # 900 s of nothing took no time
    replay.seek_time(450.0)
    assert replay.seq == 2 and replay.t == pytest.approx(450.0)
