"""Review fixes: a replay's zoom acts on no runner; the zoom never steals the run's end from
the dashboard; the filter gives focus back; a background seek guards the replay's actions;
the event log caches only full pages; the Gantt widget draws with the theme's colours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.color import Color

from oneie_tui.store.sqlite import RunStore
from oneie_tui.ui.screens.agent import AgentScreen
from oneie_tui.ui.screens.replay import ReplayScreen
from oneie_tui.ui.widgets.event_log import EventLog
from oneie_tui.ui.widgets.gantt import GanttChart
from oneie_tui.views.replay_clock import Replay
from tests.history_support import ideal_events, store_ideal_run
from tests.tui.scenario import CRUD, crud_halfway
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio

# Long sim agents named as course-crud's, so a replay of course-crud zooms on an agent
# id the live run also has.
LIVE_SPEC = "\n".join(
    ['[feature]\nname = "Long squad"\n\n[run]\nbackend = "sim"\n']
    + [f'[[agents]]\nid = "{a}"\nsim = {{ duration = 600.0 }}\n' for a in CRUD]
)
LONG_SPEC = """
[feature]
name = "Long squad"

[run]
backend = "sim"

[[agents]]
id = "alpha"
sim = { duration = 600.0 }

[[agents]]
id = "beta"
sim = { duration = 600.0 }

[[agents]]
id = "gamma"
sim = { duration = 600.0 }
"""


def statuses(app: Any) -> dict[str, str]:
    return {a: s.status for a, s in app.live.runner.agents.items()}


async def test_replay_zoom_keys_leave_the_live_run_alone(make_app: Any, tmp_path: Path) -> None:
    spec = tmp_path / "live.toml"
    spec.write_text(LIVE_SPEC, encoding="utf-8")
    app = make_app(spec, run_on_start=True, clock=None)
    calls: list[str] = []
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        for name in ("control_pause", "control_cancel", "control_restart"):
            real = getattr(app, name)
            setattr(app, name, lambda agent_id, real=real, name=name: (calls.append(name), real(agent_id)))
        store = app.store
        assert store is not None
        store_ideal_run(store, "course-crud", "20260101-000000-replay")
        await app.push_screen(ReplayScreen(store, "20260101-000000-replay", autoplay=False, at_end=True))
        await pilot.pause()
        await pilot.press("enter")  # zoom on the focused (first) panel
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen))
        zoom = app.screen
        assert isinstance(zoom, AgentScreen) and zoom.agent_id == "agent-backend"
        await pilot.press("c", "p", "r")
        zoom.post_message(zoom_cancel("agent-backend"))  # an intent posted some other way
        await pilot.pause(0.2)
        assert calls == []
        assert statuses(app) == dict.fromkeys(CRUD, "running")
        assert any("replay" in n.message for n in app._notifications)
        shown = {b.binding.action for b in zoom.active_bindings.values()}
        assert not shown & {"pause", "cancel", "restart"}  # hidden from the footer
        live = app.live
        assert live is not None
        live.cancel_run()
        await wait_until(pilot, lambda: not app.running)


def zoom_cancel(agent_id: str) -> Any:
    from oneie_tui.ui.messages import CancelAgent

    return CancelAgent(agent_id)


def crud_finish() -> list[Any]:
    """crud_halfway, then backend and frontend finish and the run ends."""
    s = crud_halfway()
    start = len(s.events)
    s.add(1.6, "agent_completed", "agent-backend", attempt=1, summary="backend finished")
    s.add(1.8, "agent_completed", "agent-frontend", attempt=1, summary="frontend finished")
    s.add(1.8, "run_finished", status="completed", wall_s=1.8, speedup=1.9)
    return s.events[start:]


async def test_the_run_ending_while_zoomed_reaches_the_dashboard(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(160, 44)) as pilot:
        app.apply_events(crud_halfway().events)
        await pilot.pause(0.1)
        dashboard = app.dashboard
        dashboard.grid.focus_first()
        await pilot.press("enter")
        zoom = app.screen
        assert isinstance(zoom, AgentScreen)
        app.apply_events(crud_finish())
        zoom.refresh_from_view()  # the zoom's timer fires before the dashboard's frame
        await wait_until(pilot, lambda: zoom.bridge.view.status == "completed")  # the shared view
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is dashboard and dashboard._last_status == "completed")
        assert "completed" in str(dashboard.header.render()).lower()
        assert "run_finished" in [e.type for e in dashboard.timeline.shown]


async def test_closing_the_filter_gives_focus_back_to_the_panel(make_app: Any, tmp_path: Path) -> None:
    spec = tmp_path / "long.toml"
    spec.write_text(LONG_SPEC, encoding="utf-8")
    app = make_app(spec, run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        await pilot.press("right", "right")
        assert app.focused.agent_id == "gamma"
        await pilot.press("slash", "escape")
        await pilot.press("c")
        await wait_until(pilot, lambda: statuses(app)["gamma"] == "cancelled")
        assert statuses(app) == {"alpha": "running", "beta": "running", "gamma": "cancelled"}
        await pilot.press("slash", *"gam", "enter")  # enter keeps the filter, gives focus back
        assert app.focused.agent_id == "gamma"
        app.live.cancel_run()
        await wait_until(pilot, lambda: not app.running)


async def test_actions_wait_for_a_background_seek(tmp_path: Path) -> None:
    from oneie_tui.ui.app import OneieApp

    path = tmp_path / "runs.sqlite3"
    store = RunStore(path)
    store_ideal_run(store, "course-crud", "20260101-000000-aaaaaa")
    app = OneieApp(None, store_path=path, cursor_blink=False,
                   initial_screen_factory=lambda: ReplayScreen(store, "20260101-000000-aaaaaa", autoplay=False))
    async with app.run_test(size=(160, 44)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        screen.busy = True  # as while a seek thread folds into the view
        speed = screen.replay.speed
        await pilot.press("g", "s", "enter")
        await pilot.pause()
        assert not screen.has_class("-gantt")
        assert screen.replay.speed == speed
        assert app.screen is screen  # no zoom pushed
        screen.busy = False
        await pilot.press("g")
        assert screen.has_class("-gantt")


def test_event_log_does_not_cache_a_short_tail_page(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    run_id = "20260101-000000-follow"
    events = ideal_events("course-crud", run_id)
    assert len(events) > 12
    store.create_run(run_id, "Course CRUD", "", "specs/course-crud.toml", events[0].ts)
    store.insert_events(events[:10])  # a run still being written
    log = EventLog(Replay(store, run_id))
    assert log._event(9) is not None and log._event(10) is None
    store.insert_events(events[10:])
    assert log._event(10) == events[10]  # read again, not served from a stale short page
    store.close()


def marker_styles(chart: GanttChart) -> list[Any]:
    text = chart.render()
    plain = text.plain
    spans = [s for s in text.spans if plain[s.start:s.end] == "◆"]
    return [text.get_style_at_offset(chart.app.console, s.start) for s in spans]


async def test_gantt_markers_use_the_theme_foreground(tmp_path: Path) -> None:
    from oneie_tui.ui.app import OneieApp

    path = tmp_path / "runs.sqlite3"
    store = RunStore(path)
    store_ideal_run(store, "course-crud", "20260101-000000-aaaaaa")
    app = OneieApp(None, store_path=path, cursor_blink=False, theme="light",
                   initial_screen_factory=lambda: ReplayScreen(store, "20260101-000000-aaaaaa",
                                                              autoplay=False, gantt=True, at_end=True))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        chart = app.screen.query_one(GanttChart)
        for theme in ("light", "dark"):
            app.theme = theme
            await pilot.pause()
            foreground = Color.parse(app.theme_variables["foreground"])
            styles = marker_styles(chart)
            assert styles and all(s.color == foreground for s in styles), theme


def test_agents_keep_distinct_colours_in_a_theme_without_an_agent_palette() -> None:
    from oneie_tui.ui.widgets.colors import agent_colors
    from oneie_tui.views.run_view import AgentView, RunView

    view = RunView()
    for name in ("a", "b", "c"):
        view.agents[name] = AgentView(name)
    builtin = {"primary": "#0178d4", "accent": "#ffa62b", "success": "#4ebf71"}  # no agent-N
    colors = agent_colors(view, builtin)
    assert colors == {"a": "#0178d4", "b": "#ffa62b", "c": "#4ebf71"}
