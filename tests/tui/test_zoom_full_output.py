"""The zoom shows an agent's whole output, not only the capped scrollback: past the cap it
reads the attempt's output from the run store (live, while lines keep coming; and in a
replay, up to the replay clock)."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Log

from oneie_tui.store.sqlite import RunStore
from oneie_tui.ui import live as live_module
from oneie_tui.ui.bridge import SCROLLBACK, EventBridge
from oneie_tui.ui.screens.agent import AgentScreen
from oneie_tui.ui.screens.replay import ReplayScreen
from tests.history_support import T0
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio

# `chatty` writes far past the scrollback; `quiet` keeps the run going.
CHATTY = """
[feature]
name = "Chatty"

[run]
backend = "sim"

[[agents]]
id = "chatty"
sim = { duration = 600.0, lines_per_second = 4000.0 }

[[agents]]
id = "quiet"
sim = { duration = 600.0 }
"""


def shown(screen: AgentScreen) -> list[str]:
    return list(screen.query_one("#zoom-output", Log).lines)


@pytest.mark.parametrize(("slow_read", "starved"), [(False, False), (True, False), (False, True)])
async def test_live_zoom_shows_every_line_while_the_agent_writes(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow_read: bool, starved: bool
) -> None:
    """With `slow_read`, the store answers slowly and the scrollback is short, so more lines
    arrive during a read than the scrollback keeps: the zoom reads those from the store too.
    With `starved`, the zoom misses its refreshes for a while after its read, as on a loaded
    machine, so more lines come between two refreshes than the scrollback keeps."""
    scrollback = SCROLLBACK
    reads: list[int] = []
    if slow_read:
        scrollback = 50
        monkeypatch.setattr(live_module, "EventBridge", functools.partial(EventBridge, scrollback=scrollback))
        real_read = RunStore.agent_output

        def slow(self: RunStore, *args: Any, **kwargs: Any) -> list[str]:
            reads.append(kwargs.get("after_seq", 0))
            time.sleep(0.5)
            return real_read(self, *args, **kwargs)

        monkeypatch.setattr(RunStore, "agent_output", slow)
    spec = tmp_path / "chatty.toml"
    spec.write_text(CHATTY, encoding="utf-8")
    app = make_app(spec, run_on_start=True, clock=None)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.live is not None
                         and app.dashboard.view.agents["chatty"].output_lines > scrollback + 500)
        app.dashboard.grid.focus_first()
        await pilot.press("enter")
        zoom = app.screen
        assert isinstance(zoom, AgentScreen) and zoom.agent_id == "chatty"
        await pilot.pause(0.3)  # lines keep arriving while the store is read
        live = app.live
        assert live is not None
        if starved:
            await wait_until(pilot, lambda: zoom.query_one("#zoom-output").border_title == "output")
            view = app.dashboard.view
            missed_from = view.agents["chatty"].output_lines
            zoom._show_output = lambda *_: None  # type: ignore[method-assign]
            await wait_until(pilot, lambda: view.agents["chatty"].output_lines > missed_from + 2 * scrollback)
            del zoom._show_output
        assert live.runner.pause_all() == 2  # the bus goes quiet; the dashboard catches up
        view = app.dashboard.view
        await wait_until(pilot, lambda: app.dashboard.bridge.applied_seq == live.runner.bus.last_seq)
        await wait_until(pilot, lambda: zoom._shown_lines == view.agents["chatty"].output_lines
                         and zoom.query_one("#zoom-output").border_title == "output")
        await wait_until(pilot, lambda: len(shown(zoom)) == view.agents["chatty"].output_lines)
        store = app.store
        assert store is not None
        assert store.wait_committed(live.runner.run_id, live.runner.bus.last_seq)
        monkeypatch.undo()
        stored = store.agent_output(live.runner.run_id, "chatty", live.runner.bus.last_seq)
        assert len(stored) > scrollback
        assert shown(zoom) == stored  # every line once, in order: none lost at the seam
        if slow_read:
            assert reads[0] == 0 and any(after > 0 for after in reads)  # caught up from the store
        live.cancel_run()
        await wait_until(pilot, lambda: not app.running)


async def test_replay_zoom_shows_the_output_up_to_the_replay_clock(make_app: Any, tmp_path: Path) -> None:
    from oneie_tui.events import Event

    path = tmp_path / "replay.sqlite3"
    store = RunStore(path)
    run_id = "20260101-000000-chatty"
    store.create_run(run_id, "Chatty", CHATTY, None, T0)
    events = [Event(1, run_id, T0, "run_started", "runner", metadata={"agents": ["chatty", "quiet"]}),
              Event(2, run_id, T0, "agent_queued", "chatty", metadata={"attempt": 1}),
              Event(3, run_id, T0, "agent_started", "chatty", metadata={"attempt": 1})]
    for i in range(1, 1201):
        events.append(Event(len(events) + 1, run_id, T0 + i / 100, "agent_output", "chatty",
                            metadata={"text": f"line {i}", "stream": "stdout"}))
    events.append(Event(len(events) + 1, run_id, T0 + 13, "agent_completed", "chatty", metadata={}))
    store.insert_events(events)
    store.finish_run(run_id, T0 + 13, "completed", {})

    app = make_app(None, initial_screen_factory=lambda: ReplayScreen(store, run_id, autoplay=False),
                   store_path=path)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        screen.replay.seek_seq(3 + 900)  # 900 lines in: far past the view's 200-line tail
        await pilot.pause()
        await pilot.press("enter")  # the first panel has focus
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen))
        zoom = app.screen
        assert isinstance(zoom, AgentScreen) and zoom.agent_id == "chatty"
        await wait_until(pilot, lambda: len(shown(zoom)) == 900)
        assert shown(zoom) == [f"line {i}" for i in range(1, 901)]
