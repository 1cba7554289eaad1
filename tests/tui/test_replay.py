"""The replay screen driven by keys: play/pause, speeds, step, seek, Gantt; its panels end
where the live run's panels ended."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import anyio
import pytest

from oneie_tui.store.sqlite import RunStore
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.screens.replay import ReplayScreen
from oneie_tui.ui.seek_time import parse_time
from oneie_tui.ui.widgets import AgentPanel, RunHeader, Timeline
from oneie_tui.ui.widgets.event_log import EventLog
from oneie_tui.ui.widgets.gantt import GanttChart
from oneie_tui.views.run_view import initial_view
from tests.history_support import T0, record_run, store_ideal_run
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio


def app_on(store_path: Path, factory: Any) -> OneieApp:
    return OneieApp(None, store_path=store_path, initial_screen_factory=factory,
                    clock=lambda: T0, cursor_blink=False)


def panel_texts(screen: ReplayScreen) -> dict[str, str]:
    return {
        p.agent_id: str(p.render()) if hasattr(p, "render") else ""
        for p in screen.query(AgentPanel)
    }


def test_parse_time() -> None:
    assert parse_time("12") == 12.0
    assert parse_time("1.5s") == 1.5
    assert parse_time("1:30") == 90.0
    assert parse_time("2m") == 120.0
    assert parse_time("250ms") == 0.25
    assert parse_time("soon") is None


async def test_playing_to_the_end_shows_the_live_end_state(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    run_id, live = await anyio.to_thread.run_sync(record_run, path, "workflow")
    store = RunStore(path)
    app = app_on(path, lambda: ReplayScreen(store, run_id, speed=16.0))
    async with app.run_test(size=(160, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert screen.replay.speed == 16.0  # playing from the start (the run was short)
        await wait_until(pilot, lambda: not screen.replay.playing)
        await pilot.pause()
        assert screen.replay.at_end
        view = screen.replay.view
        assert {k: a.comparable() for k, a in view.agents.items()} == {
            k: a.comparable() for k, a in live.agents.items()
        }
        # the widgets show that view: every panel, the header, the timeline
        assert set(screen.grid.panels) == set(live.agents)
        assert screen.query_one(Timeline).shown == list(live.timeline)
        header = str(screen.query_one(RunHeader).render())
        assert "completed" in header.lower() or "done" in header.lower()


async def test_keys_step_seek_speed_and_gantt(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    store = RunStore(path)
    events = store_ideal_run(store, "course-crud", "20260101-000000-aaaaaa")
    app = app_on(path, lambda: ReplayScreen(store, "20260101-000000-aaaaaa", autoplay=False))
    async with app.run_test(size=(160, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        replay = screen.replay
        assert not replay.playing and replay.seq == 0
        await pilot.press("full_stop", "full_stop", "full_stop")
        assert replay.seq == 3
        await pilot.press("comma")
        assert replay.seq == 2
        await pilot.pause()
        assert "event 2 / " in str(screen.query_one("#replay-bar").render())
        # seek to 1.0 s: the backend has fired schema_ready (0.6 s), nobody has finished
        await pilot.press("t", *"1.0", "enter")
        await pilot.pause()
        assert replay.t == pytest.approx(1.0)
        assert replay.seq == max(e.seq for e in events if e.ts <= T0 + 1.0)
        view = replay.view
        assert view.agents["agent-backend"].events_fired == ["schema_ready"]
        assert view.agents["agent-quality"].status == "completed"  # 1.0 s exactly
        assert view.agents["agent-frontend"].status == "running"
        assert view.agents["agent-frontend"].progress == 50.0
        picture = app.export_screenshot()
        assert "50%" in picture and "100%" in picture and "1.00s&#160;/&#160;2.00s" in picture
        # a bad time is refused, nothing moves
        await pilot.press("t", *"soon", "enter")
        assert replay.t == pytest.approx(1.0)
        await pilot.press("escape")
        # speeds
        await pilot.press("s")
        assert replay.speed == 4.0
        await pilot.press("s", "s")
        assert math.isinf(replay.speed)
        await pilot.press("space")
        await wait_until(pilot, lambda: replay.at_end)
        # the Gantt view
        await pilot.press("g")
        await pilot.pause()
        assert screen.has_class("-gantt")
        chart = screen.query_one(GanttChart)
        assert chart.model is not None and chart.model.critical_path == ["agent-backend"]
        assert "speedup 2.50×" in str(chart.render())
        await pilot.press("home")
        assert replay.seq == 0
        assert {k: a.status for k, a in replay.view.agents.items()} == {
            k: a.status for k, a in initial_view(store.get_run(replay.run_id)).agents.items()
        }


async def test_every_replay_key_is_in_the_command_palette(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    store = RunStore(path)
    store_ideal_run(store, "course-crud", "20260101-000000-aaaaaa")
    app = app_on(path, lambda: ReplayScreen(store, "20260101-000000-aaaaaa", autoplay=False))
    async with app.run_test(size=(160, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Gantt")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.has_class("-gantt"))


async def test_all_events_log_pages_from_the_store(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    store = RunStore(path)
    events = store_ideal_run(store, "workflow", "20260101-000000-aaaaaa")
    app = app_on(path, lambda: ReplayScreen(store, "20260101-000000-aaaaaa", autoplay=False))
    async with app.run_test(size=(160, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        await pilot.press("l")
        log = screen.query_one(EventLog)
        assert log.display and not screen.query_one(Timeline).display
        assert log.virtual_size.height == 0
        screen.seek(2.2)
        await pilot.pause()
        upto = [e for e in events if e.ts <= T0 + 2.2]
        assert log.virtual_size.height == len(upto)
        log.PAGE = 7  # small pages: lines come from several range reads
        log._pages.clear()
        assert [log._event(i) for i in range(len(upto))] == upto
        await pilot.pause()
        assert log.scroll_offset.y == len(upto) - log.size.height  # it follows the clock
        picture = app.export_screenshot()
        assert "agent_output" in picture and "#" + str(upto[-1].seq) in picture
        await pilot.press("l")
        assert screen.query_one(Timeline).display


async def test_a_long_seek_runs_in_a_worker_and_lands_on_the_right_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oneie_tui.ui.screens import replay as replay_screen

    monkeypatch.setattr(replay_screen, "FOREGROUND_FOLD", 5)
    path = tmp_path / "runs.sqlite3"
    store = RunStore(path)
    events = store_ideal_run(store, "workflow", "20260101-000000-aaaaaa")
    app = app_on(path, lambda: ReplayScreen(store, "20260101-000000-aaaaaa", autoplay=False))
    async with app.run_test(size=(160, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        await pilot.press("full_stop", "full_stop")  # small moves stay in the foreground
        assert screen.replay.seq == 2 and not screen.busy
        await pilot.press("end")
        await wait_until(pilot, lambda: not screen.busy and screen.replay.at_end)
        expected = initial_view(store.get_run(screen.run_id))
        expected.apply_all(events)
        assert {k: a.comparable() for k, a in screen.replay.view.agents.items()} == {
            k: a.comparable() for k, a in expected.agents.items()
        }
        await pilot.pause()
        assert "■ end" in str(screen.query_one("#replay-bar").render())
        # instant speed goes through the same path
        await pilot.press("home")
        await wait_until(pilot, lambda: not screen.busy and screen.replay.seq == 0)
        screen.set_speed(float("inf"))
        await pilot.press("space")
        await wait_until(pilot, lambda: not screen.busy and screen.replay.at_end)
