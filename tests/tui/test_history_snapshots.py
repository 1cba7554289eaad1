"""Pictures of the history screen. Deterministic: runs with fixed timestamps, UTC."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from oneie_tui.store.sqlite import RunStore
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.screens.history import HistoryScreen
from tests.history_support import T0, store_ideal_run


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def history_app(tmp_path: Path) -> OneieApp:
    path = tmp_path / "store" / "runs.sqlite3"
    store = RunStore(path)
    store_ideal_run(store, "course-crud", "20260101-000000-aaaaaa", T0)
    store_ideal_run(store, "workflow", "20260101-010000-bbbbbb", T0 + 3600)
    store_ideal_run(store, "auth-system", "20260101-020000-cccccc", T0 + 7200)
    store_ideal_run(store, "payment-squad", "20260101-030000-dddddd", T0 + 10800)
    store.create_run("20260101-040000-eeeeee", "Failure cascade", "", None, T0 + 14400)
    store.finish_run(
        "20260101-040000-eeeeee", T0 + 14401.2, "failed",
        {"wall_s": 1.2, "speedup": 1.4, "agents": [{}, {}, {}], "input_tokens": 1200,
         "output_tokens": 340, "cost_usd": 0.0123},
    )
    store.create_run("20260101-050000-ffffff", "RAG system", "", None, T0 + 18000)
    store.finish_run("20260101-050000-ffffff", T0 + 18000.5, "interrupted", {})
    return OneieApp(None, store_path=path, initial_screen_factory=lambda: HistoryScreen(store),
                    clock=lambda: T0, cursor_blink=False)


def test_history_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(history_app(tmp_path), terminal_size=(120, 20))


def test_history_sorted_by_speedup_filtered(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, HistoryScreen)
        screen.sort_by("speedup", True)
        await pilot.press("f")  # completed only
        await pilot.pause()

    assert snap_compare(history_app(tmp_path), terminal_size=(100, 16), run_before=run_before)


def test_history_at_80_columns(snap_compare: Any, tmp_path: Path) -> None:
    """Every column, cost included, fits an 80-column terminal (short dates, single gaps)."""
    assert snap_compare(history_app(tmp_path), terminal_size=(80, 16))
