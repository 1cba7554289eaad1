"""Pictures of a replay mid-way. Deterministic: an ideal run with fixed timestamps, paused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from oneie_tui.store.sqlite import RunStore
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.screens.replay import ReplayScreen
from tests.history_support import T0, store_ideal_run


def replay_app(tmp_path: Path, spec: str, **kwargs: Any) -> OneieApp:
    path = tmp_path / "store" / "runs.sqlite3"
    store = RunStore(path)
    store_ideal_run(store, spec, "20260101-000000-abc123")
    return OneieApp(
        None, store_path=path, clock=lambda: T0, cursor_blink=False,
        initial_screen_factory=lambda: ReplayScreen(store, "20260101-000000-abc123", autoplay=False, **kwargs),
    )


def seek(seconds: float) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, ReplayScreen)
        screen.seek(seconds)
        await pilot.pause()

    return run_before


def test_replay_course_crud_midway(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(replay_app(tmp_path, "course-crud"), terminal_size=(160, 44), run_before=seek(1.0))


def test_replay_workflow_midway(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(replay_app(tmp_path, "workflow"), terminal_size=(160, 44), run_before=seek(2.2))
