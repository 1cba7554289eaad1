"""Pictures of the Gantt view (course-crud and the workflow spec), at 80 and 160 columns,
and in the light theme."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from oneie_tui.store.sqlite import RunStore
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.screens.replay import ReplayScreen
from tests.history_support import T0, store_ideal_run
from tests.tui.test_replay_snapshots import replay_app, seek


def at_end(pilot: Pilot[Any]) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("end")
        await pilot.pause()

    return run_before(pilot)


def test_gantt_course_crud(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(replay_app(tmp_path, "course-crud", gantt=True), terminal_size=(120, 30), run_before=at_end)


def test_gantt_workflow(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(replay_app(tmp_path, "workflow", gantt=True), terminal_size=(160, 36), run_before=at_end)


def test_gantt_workflow_80_columns(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(replay_app(tmp_path, "workflow", gantt=True), terminal_size=(80, 30), run_before=at_end)


def test_gantt_workflow_midway(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(replay_app(tmp_path, "workflow", gantt=True), terminal_size=(120, 30), run_before=seek(2.2))


def test_gantt_workflow_light_theme(snap_compare: Any, tmp_path: Path) -> None:
    path = tmp_path / "store" / "runs.sqlite3"
    store = RunStore(path)
    store_ideal_run(store, "workflow", "20260101-000000-abc123")
    app = OneieApp(
        None, store_path=path, clock=lambda: T0, cursor_blink=False, theme="light",
        initial_screen_factory=lambda: ReplayScreen(store, "20260101-000000-abc123", autoplay=False, gantt=True),
    )
    assert snap_compare(app, terminal_size=(120, 30), run_before=at_end)
