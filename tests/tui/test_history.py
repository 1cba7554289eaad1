"""The history screen driven by keys: sort, filter, replay, delete, resume."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from oneie_tui.store.sqlite import RunListing, RunStore
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.history_table import filter_rows, sort_rows
from oneie_tui.ui.screens.confirm import ConfirmScreen
from oneie_tui.ui.screens.dashboard import DashboardScreen
from oneie_tui.ui.screens.history import HistoryScreen
from oneie_tui.ui.screens.replay import ReplayScreen
from tests.history_support import T0, record_run, store_ideal_run
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio


def fill(store: RunStore) -> None:
    store_ideal_run(store, "course-crud", "20260101-000000-aaaaaa", T0)
    store_ideal_run(store, "workflow", "20260101-010000-bbbbbb", T0 + 3600)
    store_ideal_run(store, "auth-system", "20260101-020000-cccccc", T0 + 7200)
    store_ideal_run(store, "multi-feature", "20260101-030000-dddddd", T0 + 10800)
    store.create_run("20260101-040000-eeeeee", "Failure cascade", "", None, T0 + 14400)
    store.finish_run("20260101-040000-eeeeee", T0 + 14401, "failed", {"wall_s": 1.0, "speedup": 0.5, "agents": [{}, {}, {}]})


def app_on(store_path: Path, factory: Any) -> OneieApp:
    return OneieApp(None, store_path=store_path, initial_screen_factory=factory,
                    clock=lambda: T0, cursor_blink=False)


def listing(**kw: Any) -> RunListing:
    base: dict[str, Any] = dict(id="x", spec_name="S", started=0.0, ended=None, status="completed",
                                agents=None, wall_s=None, speedup=None, tokens=None, cost_usd=None)
    return RunListing(**{**base, **kw})


def test_sort_and_filter_functions() -> None:
    rows = [
        listing(id="a", spec_name="Beta", speedup=2.0, started=3.0, status="failed"),
        listing(id="b", spec_name="alpha", speedup=None, started=1.0),
        listing(id="c", spec_name="Gamma", speedup=3.5, started=2.0, status="interrupted"),
    ]
    assert [r.id for r in sort_rows(rows, "speedup", True)] == ["c", "a", "b"]
    assert [r.id for r in sort_rows(rows, "speedup", False)] == ["b", "a", "c"]
    assert [r.id for r in sort_rows(rows, "spec", False)] == ["b", "a", "c"]  # case-insensitive
    assert [r.id for r in sort_rows(rows, "started", True)] == ["a", "c", "b"]
    assert [r.id for r in filter_rows(rows, "ALP", "")] == ["b"]
    assert [r.id for r in filter_rows(rows, "", "interrupted")] == ["c"]
    assert [r.id for r in filter_rows(rows, "a", "failed")] == ["a"]


async def test_table_sorts_by_any_column_and_filters(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    fill(store)
    app = app_on(tmp_path / "runs.sqlite3", lambda: HistoryScreen(store))
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        table = screen.table
        assert table.row_count == 5
        # newest first
        assert [r.id[-6:] for r in screen.rows] == ["eeeeee", "dddddd", "cccccc", "bbbbbb", "aaaaaa"]
        assert table.line_text(0).split()[2:4] == ["Failure", "cascade"]
        screen.sort_by("speedup", True)
        speeds = [r.speedup for r in screen.rows]
        assert speeds == sorted(speeds, reverse=True)
        assert f"{speeds[0]:.2f}×" in table.line_text(0)
        await pilot.press("O")
        assert [r.speedup for r in screen.rows] == sorted(speeds)
        await pilot.press("o")  # next column: tokens
        assert screen.sort_key == "tokens"
        # filter by text
        await pilot.press("slash", *"work")
        assert [r.spec_name for r in screen.rows] == ["Payment workflow"]
        assert table.row_count == 1
        await pilot.press("escape")
        assert table.row_count == 5
        # filter by status
        await pilot.press("f")
        assert screen.status == "completed" and table.row_count == 4
        await pilot.press("f")
        assert screen.status == "failed" and [r.id[-6:] for r in screen.rows] == ["eeeeee"]


async def test_header_click_sorts(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    fill(store)
    app = app_on(tmp_path / "runs.sqlite3", lambda: HistoryScreen(store))
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        x = 1 + 19 + 2 + 1  # just inside the "spec" column
        await pilot.click("#runs-header", offset=(x, 0))
        assert screen.sort_key == "spec" and not screen.sort_reverse  # names: A to Z first
        names = [r.spec_name for r in screen.rows]
        assert names == sorted(names, key=str.lower)
        await pilot.click("#runs-header", offset=(x, 0))  # again: Z to A
        assert [r.spec_name for r in screen.rows] == sorted(names, key=str.lower, reverse=True)


async def test_enter_replays_and_delete_asks_first(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    fill(store)
    app = app_on(tmp_path / "runs.sqlite3", lambda: HistoryScreen(store))
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await pilot.press("down")  # the second newest: multi-feature
        await pilot.press("enter")
        assert isinstance(app.screen, ReplayScreen) and app.screen.run_id.endswith("dddddd")
        await pilot.press("escape")
        await pilot.press("G")  # the Gantt picture of the selected run, at its end
        gantt_screen = app.screen
        assert isinstance(gantt_screen, ReplayScreen) and gantt_screen.has_class("-gantt")
        assert gantt_screen.replay.at_end and gantt_screen.run_id.endswith("dddddd")
        await pilot.press("escape")
        await pilot.click("#runs", offset=(5, 2))  # a click selects, a second click opens
        assert screen.selected_id() == "20260101-020000-cccccc"
        await pilot.click("#runs", offset=(5, 1))
        await pilot.click("#runs", offset=(5, 1))
        assert isinstance(app.screen, ReplayScreen) and app.screen.run_id.endswith("dddddd")
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert store.has_run("20260101-030000-dddddd")
        await pilot.press("d")
        await pilot.press("y")
        await pilot.pause()
        assert not store.has_run("20260101-030000-dddddd")
        assert store.count_events("20260101-030000-dddddd") == 0
        assert len(screen.rows) == 4


async def test_resume_key_resumes_an_interrupted_run(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    run_id, _ = await anyio.to_thread.run_sync(record_run, path, "workflow")
    store = RunStore(path)
    events = list(store.events(run_id))
    cut = next(e.seq for e in events if e.type == "agent_completed" and e.actor == "agent-designer")
    with sqlite3.connect(path) as conn:  # as a SIGKILL after `cut` leaves it
        conn.execute("DELETE FROM events WHERE run_id=? AND seq>?", (run_id, cut))
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        proc.wait()
        conn.execute("UPDATE runs SET status='running', ended=NULL, summary=NULL, pid=? WHERE id=?",
                     (proc.pid, run_id))
    store_ideal_run(store, "course-crud", "20200101-000000-aaaaaa", T0 - 10**8)
    app = app_on(path, lambda: HistoryScreen(store))
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.rows[0].status == "interrupted"
        await pilot.press("down")  # the completed one: refused
        await pilot.press("R")
        assert app.screen is screen
        await pilot.press("up", "R")
        # A resumed run is a live run on the live dashboard (issue 13 item 11).
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen) and dashboard is app.dashboard
        # The app owns the resumed run (not the history screen's worker): leaving screens
        # does not end it, and quitting asks first.
        assert app.live is not None and app.live.runner.run_id == run_id
        await wait_until(pilot, lambda: store.get_run(run_id).status == "completed")
        await wait_until(pilot, lambda: dashboard.view.status == "completed")
        assert dashboard.view.agents["agent-designer"].status == "completed"  # from before the cut
        after = list(store.events(run_id))
        assert [e.seq for e in after] == list(range(1, len(after) + 1))
        assert not [e for e in after[cut:] if e.actor == "agent-designer"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen.rows[0].status == "completed")


async def test_a_long_history_shows_the_newest_first_then_loads_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oneie_tui.ui.screens import history

    monkeypatch.setattr(history, "FIRST_PAGE", 2)
    store = RunStore(tmp_path / "runs.sqlite3")
    fill(store)
    app = app_on(tmp_path / "runs.sqlite3", lambda: HistoryScreen(store))
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_until(pilot, lambda: screen.complete)
        assert len(screen.all_rows) == 5 and screen.table.row_count == 5
        assert "5 of 5 runs" in str(screen.query_one("#history-title").render())


@pytest.mark.parametrize("width", [80, 99, 100, 120, 200])
def test_every_column_fits_the_screen(width: int) -> None:
    from oneie_tui.ui.history_table import COLUMNS, layout

    values = ["x" * 40 for _ in COLUMNS]
    x, text = layout(values, width)[-1]
    assert x + len(text) <= width, f"the cost column ends past column {width}"
