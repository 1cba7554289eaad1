"""The dashboard driven by keys against a real runner and a real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oneie_tui.engine.session import RunOptions
from oneie_tui.paths import config_file, user_themes_dir
from oneie_tui.store.sqlite import RunStore
from oneie_tui.ui.screens.confirm import ConfirmScreen
from oneie_tui.ui.widgets import AgentPanel
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio

LONG_SPEC = """
[feature]
name = "Long squad"

[run]
backend = "sim"

[[agents]]
id = "alpha"
role = "backend"
sim = { duration = 600.0 }

[[agents]]
id = "beta"
role = "frontend"
sim = { duration = 600.0 }

[[agents]]
id = "gamma"
role = "quality"
sim = { duration = 600.0 }
"""


def long_spec(tmp_path: Path) -> Path:
    path = tmp_path / "long.toml"
    path.write_text(LONG_SPEC, encoding="utf-8")
    return path


def statuses(app: Any) -> dict[str, str]:
    return {a: s.status for a, s in app.live.runner.agents.items()}


async def test_p_c_r_act_on_the_focused_agent_only(make_app: Any, tmp_path: Path) -> None:
    app = make_app(long_spec(tmp_path), run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        assert isinstance(app.focused, AgentPanel) and app.focused.agent_id == "alpha"
        await pilot.press("right")
        assert app.focused.agent_id == "beta"

        await pilot.press("p")
        await wait_until(pilot, lambda: statuses(app)["beta"] == "paused")
        assert statuses(app) == {"alpha": "running", "beta": "paused", "gamma": "running"}
        await pilot.press("space")
        await wait_until(pilot, lambda: statuses(app)["beta"] == "running")

        await pilot.press("c")
        await wait_until(pilot, lambda: statuses(app)["beta"] == "cancelled")
        assert statuses(app) == {"alpha": "running", "beta": "cancelled", "gamma": "running"}

        await pilot.press("r")
        await wait_until(pilot, lambda: statuses(app)["beta"] == "running")
        assert app.live.runner.agents["beta"].attempt == 2
        assert app.live.runner.agents["alpha"].attempt == 1

        # the panel shows it too (after a frame)
        await wait_until(pilot, lambda: app.dashboard.view.agents["beta"].attempt == 2)
        run_id = app.live.runner.run_id
        await pilot.press("C", "y")  # the confirm
        await wait_until(pilot, lambda: not app.running)

    store = RunStore(tmp_path / "runs.sqlite3")
    events = list(store.events(run_id))
    paused = [e.actor for e in events if e.type == "agent_paused"]
    resumed = [e.actor for e in events if e.type == "agent_resumed"]
    by_user = [e.actor for e in events if e.type == "agent_cancelled" and e.metadata.get("reason") == "cancelled by user"]
    requeued = [e.actor for e in events if e.type == "agent_queued" and e.metadata.get("attempt") == 2]
    assert paused == ["beta"]
    assert resumed == ["beta"]
    assert by_user == ["beta"]
    assert requeued == ["beta"]
    assert store.get_run(run_id).status == "cancelled"
    store.close()


async def test_editor_error_appears_on_its_line_and_clears(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(160, 44)) as pilot:
        editor = app.dashboard.editor
        area = editor.text_area
        area.focus()
        area.move_cursor((5, 0))  # line 6: name = "Course CRUD"
        await pilot.press("=")
        await wait_until(pilot, lambda: editor.error is not None)
        assert editor.error.line == 6
        assert area.error_line == 6
        status = str(editor.query_one("#spec-status").render())
        assert "line 6" in status and "TOML syntax" in status
        await pilot.press("backspace")
        await wait_until(pilot, lambda: editor.error is None)
        assert area.error_line is None
        assert "valid" in str(editor.query_one("#spec-status").render())


async def test_keymap_override_from_config_file(make_app: Any, tmp_path: Path) -> None:
    cfg = config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('[keymap]\npause = "x"\n', encoding="utf-8")
    app = make_app(long_spec(tmp_path), run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        await pilot.press("p")  # no longer bound
        await pilot.pause(0.1)
        assert statuses(app)["alpha"] == "running"
        await pilot.press("x")
        await wait_until(pilot, lambda: statuses(app)["alpha"] == "paused")
        await pilot.press("C", "y")  # the confirm
        await wait_until(pilot, lambda: not app.running)


async def test_misspelt_keymap_id_is_reported(make_app: Any, tmp_path: Path) -> None:
    cfg = config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(
        '[keymap]\npasue = "x"\ncancel = "k"\nfocus_left = "h"\nruns_up = "K"\nconfirm_yes = "Y"\n',
        encoding="utf-8",
    )
    app = make_app(long_spec(tmp_path))
    async with app.run_test(size=(160, 44)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("unknown binding id 'pasue'" in m for m in messages), messages
        assert not any("'cancel'" in m for m in messages)
        # The grid's, the history table's and the confirm dialog's ids are known too.
        assert not any(name in m for m in messages for name in ("focus_left", "runs_up", "confirm_yes"))


async def test_q_asks_while_a_run_is_live(make_app: Any, tmp_path: Path) -> None:
    app = make_app(long_spec(tmp_path), run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and app.live.live)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert app.live.live and app.is_running
        run_id = app.live.runner.run_id
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running)
    store = RunStore(tmp_path / "runs.sqlite3")
    assert store.get_run(run_id).status == "cancelled"
    store.close()


async def test_q_quits_at_once_when_idle(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(160, 44)) as pilot:
        app.dashboard.grid.focus_first()
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)


async def test_timeline_filter_by_agent(make_app: Any) -> None:
    from tests.tui.scenario import crud_halfway

    app = make_app()
    async with app.run_test(size=(160, 44)) as pilot:
        app.apply_events(crud_halfway().events)
        timeline = app.dashboard.timeline
        # The dashboard folds on its frame timer, which a loaded machine runs late: wait for it.
        await wait_until(pilot, lambda: len(timeline.shown) == 10)
        app.dashboard.grid.focus_first()
        assert {e.actor for e in timeline.shown} == {"runner", "agent-backend", "agent-frontend", "agent-quality"}
        # pause(): the filter follows the Input's Changed messages, which a loaded machine
        # may still be delivering when press() returns.
        await pilot.press("slash", *"quality", "enter")
        await pilot.pause()
        assert timeline.shown and {e.actor for e in timeline.shown} == {"agent-quality"}
        await pilot.press("slash", *"schema")
        await pilot.pause()
        assert [e.action for e in timeline.shown] == ["schema_ready"]
        await pilot.press("escape")
        await pilot.pause()
        assert len(timeline.shown) == 10


async def test_broken_theme_file_is_a_notification(make_app: Any) -> None:
    folder = user_themes_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.toml").write_text('name = "broken"\nprimary = "not a colour"\n', encoding="utf-8")
    (folder / "mine.toml").write_text('name = "mine"\nprimary = "#ff0000"\n', encoding="utf-8")
    app = make_app(theme="mine")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("broken.toml" in m and "not a colour" in m for m in messages)
        assert app.theme == "mine"
        assert "broken" not in app.available_themes


async def test_t_cycles_the_bundled_themes(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.dashboard.grid.focus_first()
        seen = [app.theme]
        for _ in range(3):
            await pilot.press("t")
            seen.append(app.theme)
        assert seen == ["dark", "high-contrast", "light", "dark"]


async def test_enter_zooms_and_escape_returns(make_app: Any) -> None:
    from oneie_tui.ui.screens.agent import AgentScreen
    from tests.tui.scenario import crud_halfway

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        events = crud_halfway().events
        app.apply_events(events)
        await wait_until(pilot, lambda: app.dashboard.displayed_seq == events[-1].seq)
        app.dashboard.grid.focus_first()
        await pilot.press("down", "enter")
        assert isinstance(app.screen, AgentScreen) and app.screen.agent_id == "agent-quality"
        log = app.screen.query_one("#zoom-output")
        assert log.line_count == 5
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_agent_failure_marks_it_failed_and_the_app_stays_up(make_app: Any, tmp_path: Path) -> None:
    app = make_app("failure-cascade.toml", run_on_start=True, clock=None, options=RunOptions(speed=1))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and app.live.runner.status == "failed" and not app.running)
        await wait_until(pilot, lambda: app.dashboard.view.status == "failed")
        view = app.dashboard.view
        assert view.agents["agent-backend"].status == "failed"
        assert "column group_id missing" in view.agents["agent-backend"].reason
        assert view.agents["agent-frontend"].status == "cancelled"
        assert app.is_running


async def test_no_spec_opens_the_picker_then_the_dashboard(make_app: Any) -> None:
    from oneie_tui.ui.screens.dashboard import DashboardScreen
    from oneie_tui.ui.screens.picker import PickerScreen

    app = make_app(None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)
        names = [p.name for p in app.screen.specs]
        assert "course-crud.toml" in names
        await pilot.press(*["down"] * names.index("course-crud.toml"), "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.dashboard.editor.spec is not None
        assert app.dashboard.editor.spec.feature.name == "Course CRUD"


async def test_every_dashboard_action_is_in_the_command_palette(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.dashboard.grid.focus_first()
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in (
            "Pause/resume agent-backend", "Cancel agent-backend", "Restart agent-backend",
            "Zoom agent-backend", "Run spec", "Save spec", "Pause/resume all agents", "Cancel run",
            "Show/hide editor", "Filter timeline", "Switch theme", "Run history",
        ):
            assert wanted in titles


async def test_h_opens_history(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.dashboard.grid.focus_first()
        await pilot.press("h")
        await pilot.pause()
        assert type(app.screen).__name__ == "HistoryScreen"


async def test_ctrl_s_saves_the_text_as_typed(make_app: Any, tmp_path: Path) -> None:
    spec = tmp_path / "mine.toml"
    spec.write_text(LONG_SPEC, encoding="utf-8")
    app = make_app(spec)
    async with app.run_test(size=(120, 40)) as pilot:
        area = app.dashboard.editor.text_area
        area.focus()
        area.move_cursor((0, 0))
        await pilot.press(*"# kept comment", "enter", "ctrl+s")
        await pilot.pause()
    assert spec.read_text(encoding="utf-8") == "# kept comment\n" + LONG_SPEC


async def test_escape_leaves_the_editor_and_e_brings_it_back_at_80x24(make_app: Any) -> None:
    from tests.tui.scenario import crud_halfway

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.apply_events(crud_halfway().events)
        dash = app.dashboard
        await pilot.pause()
        dash.show_editor(True)  # it starts hidden at 80x24 (the panels first); open it
        dash.editor.text_area.focus()
        await pilot.pause()
        assert dash.has_class("-narrow") and not dash.query_one("#main").display
        await pilot.press("escape")
        assert isinstance(app.focused, AgentPanel)
        assert dash.query_one("#main").display and not dash.editor.display
        await pilot.press("e")
        assert dash.editor.display and app.focused is dash.editor.text_area
        await pilot.press("escape", "q")
        await wait_until(pilot, lambda: not app.is_running)
