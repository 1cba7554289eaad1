"""`oneie watch`: the read-only dashboard on a run another process writes, on both engines;
`oneie runs` marks live runs; history opens a live run as a watch, and its read-only mode
(what `oneie serve` runs) neither deletes nor resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oneie_tui.cli import main
from oneie_tui.store.open import open_store
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.screens.confirm import ConfirmScreen
from oneie_tui.ui.screens.history import HistoryScreen
from oneie_tui.ui.screens.watch import WatchScreen
from tests.history_support import T0, ideal_events, store_ideal_run
from tests.reliability.helpers import spawn_oneie, streaming_spec
from tests.tui.waiting import wait_until

RUN = "20260101-000000-abc123"


def _app(store: Any, factory: Any) -> OneieApp:
    return OneieApp(None, store=store, initial_screen_factory=factory, clock=lambda: T0, cursor_blink=False)


@pytest.mark.anyio
async def test_watch_follows_a_run_written_by_another_process(store_target: str, tmp_path: Path) -> None:
    spec = streaming_spec(tmp_path / "squad.toml", agents=3, duration=2.5, lines_per_second=40)
    proc = spawn_oneie("run", str(spec), "--headless", "--json", env={"ONEIE_STORE": store_target})
    assert proc.stdout is not None
    run_id = str(json.loads(proc.stdout.readline())["run_id"])
    store = open_store(store_target)
    app = _app(store, lambda: WatchScreen(store, run_id))
    try:
        async with app.run_test(size=(160, 44)) as pilot:
            screen = app.screen
            assert isinstance(screen, WatchScreen)
            await wait_until(pilot, lambda: screen.updates >= 3, rounds=1000)
            seen = screen.replay.last_seq
            assert len(screen.grid.panels) == 3
            for key in ("p", "c", "C", "r"):  # no key of the dashboard reaches the run
                await pilot.press(key)
            await wait_until(pilot, lambda: screen.replay.last_seq > seen, rounds=1000)
            proc.communicate(timeout=60)
            await wait_until(pilot, lambda: screen.replay.view.status == "completed", rounds=1000)
            assert screen.replay.at_end
            assert screen.replay.last_seq == store.last_seq(run_id)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert open_store(store_target).get_run(run_id).status == "completed"  # watched, never controlled


def test_runs_marks_live_runs(store_target: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(store_target)
    store_ideal_run(store, "course-crud", "20260101-000000-done00")
    store.create_run("20260102-000000-live00", "Live one", "", None, T0 + 99)  # this process: live
    assert main(["runs", "--json"]) == 0
    live = {r["id"]: r["live"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert live == {"20260102-000000-live00": True, "20260101-000000-done00": False}
    assert main(["runs"]) == 0
    table = capsys.readouterr().out
    assert "● running" in table and table.count("●") == 1


@pytest.mark.anyio
async def test_history_opens_a_live_run_as_a_watch_and_read_only_changes_nothing(store_target: str) -> None:
    store = open_store(store_target)
    store_ideal_run(store, "course-crud", "20260101-000000-done00")
    store.create_run(RUN, "Live one", "", None, T0 + 99)
    store.insert_events(ideal_events("workflow", RUN, T0 + 99)[:10])
    store.mark_running(RUN)
    app = _app(store, lambda: HistoryScreen(store, read_only=True))
    async with app.run_test(size=(160, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_until(pilot, lambda: screen.all_rows)
        for key in ("d", "R"):  # delete and resume are off in read-only mode
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # the newest row: the live one
        await wait_until(pilot, lambda: isinstance(app.screen, WatchScreen))
        watch = app.screen
        assert isinstance(watch, WatchScreen) and watch.run_id == RUN
        await wait_until(pilot, lambda: watch.replay.last_seq == 10)
        store.insert_events(ideal_events("workflow", RUN, T0 + 99)[10:20])
        await wait_until(pilot, lambda: watch.replay.last_seq == 20, rounds=500)
    store = open_store(store_target)  # the app closed the one it was given
    assert {r.id for r in store.list_runs()} == {RUN, "20260101-000000-done00"}
    assert store.get_run(RUN).status == "running"


def test_watch_of_an_unknown_run_is_one_line(store_target: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "nope"]) == 1
    assert capsys.readouterr().err.strip() == f"oneie: no run 'nope' in {open_store(store_target).path}"


def test_watch_screen_picture(snap_compare: Any, tmp_path: Path) -> None:
    store = open_store(tmp_path / "store" / "runs.sqlite3")
    store.create_run(RUN, "Course CRUD", "", None, T0)
    store.insert_events(ideal_events("course-crud", RUN)[:40])
    assert snap_compare(_app(store, lambda: WatchScreen(store, RUN)), terminal_size=(160, 44))
