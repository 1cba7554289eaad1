"""The crowd view (issue 14, item 4): one line per agent once panels no longer fit (or by
`v`), sortable and filterable; its keys act on the selected agent through the runner, as
a panel's keys do in the grid. Pilot tests assert the runner's state after key presses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oneie_tui.ui.screens.agent import AgentScreen
from oneie_tui.ui.widgets import AgentPanel
from oneie_tui.ui.widgets.crowd_list import CrowdList, parse_filter
from tests.tui.scenario import Script
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio

CROWD = 40


def crowd_spec(tmp_path: Path, count: int = CROWD, duration: float = 600.0) -> Path:
    lines = ["[feature]", 'name = "Crowd"', "", "[run]", 'backend = "sim"', ""]
    for i in range(count):
        lines += ["[[agents]]", f'id = "agent-{i:02d}"', f"sim = {{ duration = {duration} }}", ""]
    path = tmp_path / "crowd.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def statuses(app: Any) -> dict[str, str]:
    return {a: s.status for a, s in app.live.runner.agents.items()}


def crowd_list(app: Any) -> CrowdList:
    return app.dashboard.crowd.list


async def test_a_crowd_gets_the_list_and_its_keys_act_on_the_selected_agent(make_app: Any, tmp_path: Path) -> None:
    app = make_app(crowd_spec(tmp_path), run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        dash = app.dashboard
        listing = crowd_list(app)
        assert dash.crowd_shown and not list(dash.query(AgentPanel))  # no panel is even mounted
        assert app.focused is listing and len(listing.rows) == CROWD
        assert listing.selected == "agent-00"

        await pilot.press("down", "down")
        assert listing.selected == "agent-02"
        await pilot.press("p")
        await wait_until(pilot, lambda: statuses(app)["agent-02"] == "paused")
        assert [a for a, s in statuses(app).items() if s != "running"] == ["agent-02"]
        await pilot.press("space")
        await wait_until(pilot, lambda: statuses(app)["agent-02"] == "running")

        await pilot.press("end")
        assert listing.selected == "agent-39"
        await pilot.press("c")
        await wait_until(pilot, lambda: statuses(app)["agent-39"] == "cancelled")
        await pilot.press("r")
        await wait_until(pilot, lambda: statuses(app)["agent-39"] == "running")
        assert app.live.runner.agents["agent-39"].attempt == 2
        assert app.live.runner.agents["agent-38"].attempt == 1

        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentScreen))
        assert app.screen.agent_id == "agent-39"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is dash)
        await pilot.press("C", "y")  # C asks first (issue 13)
        await wait_until(pilot, lambda: not app.running)


async def test_sort_and_filter_pick_the_agent_the_keys_act_on(make_app: Any, tmp_path: Path) -> None:
    app = make_app(crowd_spec(tmp_path), run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        listing = crowd_list(app)
        app.live.runner.pause("agent-17")
        await wait_until(pilot, lambda: app.dashboard.view.agents["agent-17"].status == "paused")

        await pilot.press("s")  # id -> status: what needs a look (paused) comes first
        assert listing.sort_key == "status" and listing.rows[0] == "agent-17"
        await pilot.press("S")
        assert listing.rows[-1] == "agent-17"

        await pilot.press("f")
        await pilot.press(*"agent-3")
        assert listing.rows == [f"agent-3{i}" for i in range(10)]
        await pilot.press("enter")  # closes the box, the filter stays
        assert app.focused is listing and listing.selected in listing.rows
        await pilot.press("f", "ctrl+u", *"paused", "enter")
        assert listing.rows == ["agent-17"] and listing.selected == "agent-17"
        await pilot.press("p")  # the one shown: resumed
        await wait_until(pilot, lambda: statuses(app)["agent-17"] == "running")
        await pilot.press("f", "escape")  # escape clears the filter
        assert len(listing.rows) == CROWD and listing.filter_text == ""
        await pilot.press("C", "y")  # C asks first (issue 13)
        await wait_until(pilot, lambda: not app.running)


async def test_v_switches_between_grid_and_list(make_app: Any, tmp_path: Path) -> None:
    app = make_app(crowd_spec(tmp_path, count=3), run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        dash = app.dashboard
        assert not dash.crowd_shown and isinstance(app.focused, AgentPanel)  # three panels fit
        await pilot.press("v")
        await wait_until(pilot, lambda: dash.crowd_shown and app.focused is crowd_list(app))
        assert not list(dash.query(AgentPanel))
        await pilot.press("down", "p")
        await wait_until(pilot, lambda: statuses(app)["agent-01"] == "paused")
        assert statuses(app) == {"agent-00": "running", "agent-01": "paused", "agent-02": "running"}
        await pilot.press("v")
        await wait_until(pilot, lambda: not dash.crowd_shown and len(dash.grid.panels) == 3)
        assert isinstance(app.focused, AgentPanel)
        await pilot.press("C", "y")  # C asks first (issue 13)
        await wait_until(pilot, lambda: not app.running)


def test_filter_words() -> None:
    assert parse_filter("running FAILED api") == ({"running", "failed"}, ["api"])
    assert parse_filter("done idle") == ({"completed", "pending"}, [])


def crowd_script() -> Script:
    """A crowd 3 s in: some done, one failed, one paused, the rest at various stages."""
    agents = [f"agent-{i:02d}" for i in range(CROWD)]
    s = Script().start(0.0, agents, "Crowd")
    for i, a in enumerate(agents):
        s.run_agent(0.01, a)
        s.lines(0.1, 1.0, a, [f"step {j} of agent {i}: building part {i * 7 % 13}" for j in range(1, 4)])
        s.progress(1.0, a, (i * 37) % 101)
        s.usage(1.0, a, 1000 + i * 10, 200 + i, 0.001 * i)
    for a in agents[:5]:
        s.add(2.0, "agent_completed", a, attempt=1, summary="ok")
    s.add(2.0, "agent_failed", agents[5], attempt=1, reason="exit code 2: tests failed")
    s.add(2.0, "agent_paused", agents[6], **{"from": "running"})
    return s


def test_crowd_view_snapshot(snap_compare: Any, make_app: Any, tmp_path: Path) -> None:
    events = crowd_script().events

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await pilot.pause()
        app.apply_events(events)
        for _ in range(400):
            if app.dashboard.displayed_seq == events[-1].seq:
                break
            await pilot.pause(0.02)
        app.dashboard.focus_agents()
        await pilot.press("down", "down")
        await pilot.pause()

    assert snap_compare(make_app(crowd_spec(tmp_path)), terminal_size=(160, 44), run_before=run_before)
