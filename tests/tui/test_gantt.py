"""The Gantt picture of a live run (GanttScreen follows its view), and the CLI entry
points that open the replay and history screens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oneie_tui.cli import main
from oneie_tui.store.sqlite import RunStore
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.screens.gantt import GanttScreen
from oneie_tui.ui.screens.history import HistoryScreen
from oneie_tui.ui.screens.replay import ReplayScreen
from oneie_tui.ui.widgets.gantt import GanttChart
from oneie_tui.views.run_view import RunView
from tests.history_support import T0, ideal_events, store_ideal_run

pytestmark = pytest.mark.anyio


async def test_live_gantt_follows_the_view(tmp_path: Path) -> None:
    events = ideal_events("workflow", "live-1")
    view = RunView()
    view.apply_all([e for e in events if e.ts <= T0 + 1.0])
    clock = {"now": T0 + 1.0}
    app = OneieApp(None, store_path=tmp_path / "runs.sqlite3", cursor_blink=False,
                   clock=lambda: clock["now"],
                   initial_screen_factory=lambda: GanttScreen(lambda: view, lambda: clock["now"]))
    async with app.run_test(size=(120, 30)) as pilot:
        chart = app.screen.query_one(GanttChart)
        assert chart.model is not None
        lanes = {lane.agent: lane for lane in chart.model.lanes}
        assert lanes["agent-quality"].status == "waiting"
        assert chart.model.span_s == pytest.approx(1.0)
        view.apply_all([e for e in events if T0 + 1.0 < e.ts <= T0 + 3.0])
        clock["now"] = T0 + 3.0
        # The screen redraws on its own timer, a few times a second: wait for it (a loaded
        # machine may run the timer late), up to 5 s.
        for _ in range(50):
            await pilot.pause(0.1)
            lanes = {lane.agent: lane for lane in chart.model.lanes}
            if lanes["agent-quality"].status == "running":
                break
        assert lanes["agent-quality"].status == "running"
        assert lanes["agent-quality"].critical
        assert chart.model.span_s == pytest.approx(3.0)
        await pilot.press("escape")


def test_replay_and_history_commands_open_their_screens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "runs.sqlite3"
    store_ideal_run(RunStore(path), "course-crud", "20260101-000000-aaaaaa")
    opened: list[Any] = []

    def fake_run(self: OneieApp) -> None:
        opened.append(self._initial_screen_factory())  # type: ignore[misc]

    monkeypatch.setattr(OneieApp, "run", fake_run)
    assert main(["replay", "20260101", "--speed", "16", "--store", str(path)]) == 0
    screen = opened[-1]
    assert isinstance(screen, ReplayScreen) and screen.run_id == "20260101-000000-aaaaaa"
    assert screen.replay.speed == 16.0
    assert main(["history", "--store", str(path)]) == 0
    assert isinstance(opened[-1], HistoryScreen)
    assert main(["replay", "nope", "--store", str(path)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
    assert len(opened) == 2
