"""What a new user meets first (issue 13): where the focus starts and how to quit, the
prompt on unsaved edits, examples opened as templates, confirms before destructive keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oneie_tui.ui.screens.confirm import ConfirmScreen
from oneie_tui.ui.screens.gantt import GanttScreen
from oneie_tui.ui.screens.save_as import SaveAsScreen
from oneie_tui.ui.screens.unsaved import UnsavedScreen
from oneie_tui.ui.widgets import AgentPanel
from tests.tui.conftest import SPECS
from tests.tui.test_dashboard_pilot import long_spec, statuses
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio


async def test_the_focus_starts_on_the_panels_so_q_quits_and_the_spec_is_untouched(make_app: Any) -> None:
    app = make_app()
    before = (SPECS / "course-crud.toml").read_text(encoding="utf-8")
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPanel))
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
        assert app.dashboard.editor.text == before


async def test_at_80x24_the_panels_show_first_and_g_opens_the_gantt(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPanel))
        dash = app.dashboard
        assert dash.query_one("#main").display and not dash.editor.display
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, GanttScreen))


async def test_the_footer_shows_the_way_out_of_the_editor_and_ctrl_q_works_there(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPanel))
        await pilot.press("e")
        assert app.focused is app.dashboard.editor.text_area
        shown = {b.binding.key: b.binding.description for b in app.screen.active_bindings.values() if b.binding.show}
        assert shown.get("escape") == "Leave editor"
        await pilot.press("escape")
        assert isinstance(app.focused, AgentPanel)
        await pilot.press("e", "ctrl+q")
        await wait_until(pilot, lambda: not app.is_running)


async def test_unsaved_edits_ask_save_discard_or_stay(make_app: Any, tmp_path: Path) -> None:
    spec = long_spec(tmp_path)
    original = spec.read_text(encoding="utf-8")
    app = make_app(spec)
    async with app.run_test(size=(160, 44)) as pilot:
        editor = app.dashboard.editor
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPanel))
        assert "modified" not in str(editor.text_area.border_title)
        await pilot.press("e", "home", *"# mine", "enter")
        assert editor.modified and "modified" in str(editor.text_area.border_title)
        await pilot.press("escape", "q")
        await wait_until(pilot, lambda: isinstance(app.screen, UnsavedScreen))
        await pilot.press("escape")  # stay
        await wait_until(pilot, lambda: not isinstance(app.screen, UnsavedScreen))
        assert app.is_running and editor.modified
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, UnsavedScreen))
        await pilot.press("s")  # save, then quit
        await wait_until(pilot, lambda: not app.is_running)
    assert spec.read_text(encoding="utf-8") == "# mine\n" + original


async def test_discard_quits_without_writing(make_app: Any, tmp_path: Path) -> None:
    spec = long_spec(tmp_path)
    original = spec.read_text(encoding="utf-8")
    app = make_app(spec)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPanel))
        await pilot.press("e", *"zz", "escape", "q")
        await wait_until(pilot, lambda: isinstance(app.screen, UnsavedScreen))
        await pilot.press("d")
        await wait_until(pilot, lambda: not app.is_running)
    assert spec.read_text(encoding="utf-8") == original


async def test_a_bundled_example_saves_as_a_copy_in_the_current_folder(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    example = SPECS / "course-crud.toml"
    original = example.read_text(encoding="utf-8")
    app = make_app("course-crud.toml")
    async with app.run_test(size=(160, 44)) as pilot:
        editor = app.dashboard.editor
        assert editor.template and "example" in str(editor.text_area.border_title)
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPanel))
        await pilot.press("e", "home", *"# my copy", "enter", "ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SaveAsScreen))
        await pilot.press("enter")  # the suggested name: ./course-crud.toml
        await wait_until(pilot, lambda: (tmp_path / "course-crud.toml").exists())
        assert not editor.template and not editor.modified
        assert app.spec_path == tmp_path / "course-crud.toml"
    assert example.read_text(encoding="utf-8") == original
    assert (tmp_path / "course-crud.toml").read_text(encoding="utf-8") == "# my copy\n" + original


async def test_cancel_run_and_restart_of_a_running_agent_ask_first(make_app: Any, tmp_path: Path) -> None:
    app = make_app(long_spec(tmp_path), run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.1)
        assert app.live.runner.agents["alpha"].attempt == 1
        await pilot.press("r", "y")
        await wait_until(pilot, lambda: app.live.runner.agents["alpha"].attempt == 2)

        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.1)
        assert app.live.live and set(statuses(app).values()) <= {"running", "queued"}
        await pilot.press("C", "y")
        await wait_until(pilot, lambda: not app.running)
        assert set(statuses(app).values()) == {"cancelled"}


ONE_CANCELLED = """
[feature]
name = "One cancelled"

[run]
backend = "sim"

[[agents]]
id = "slow"
sim = { duration = 600.0 }

[[agents]]
id = "quick"
sim = { duration = 1.5 }
"""


async def test_cancelling_one_agent_is_completed_1_cancelled_everywhere(
    make_app: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from oneie_tui.cli import main
    from oneie_tui.commands.headless import exit_code_for
    from oneie_tui.store.sqlite import RunStore
    from oneie_tui.ui.history_table import cells

    spec = tmp_path / "one.toml"
    spec.write_text(ONE_CANCELLED, encoding="utf-8")
    app = make_app(spec, run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and statuses(app)["slow"] == "running")
        assert app.focused.agent_id == "slow"
        await pilot.press("c")
        await wait_until(pilot, lambda: not app.running and app.dashboard.view.status != "running")
        header = app.dashboard.header
        await wait_until(pilot, lambda: "completed (1 cancelled)" in str(header.render()))
        assert "failed" not in str(header.render())
        await wait_until(pilot, lambda: any("run completed (1 cancelled)" in n.message for n in app._notifications))
        run_id = app.live.runner.run_id
    store = RunStore(tmp_path / "runs.sqlite3")
    row = store.list_listings()[0]
    assert row.id == run_id and row.status == "failed"  # the status code: exit 1, as documented
    assert exit_code_for(row.status, False) == 1
    assert row.outcome == "completed (1 cancelled)"
    assert "completed (1 cancelled)" in cells(row, 160)
    store.close()
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["runs", "--store", str(tmp_path / "runs.sqlite3")]) == 0
    assert "completed (1 cancelled)" in capsys.readouterr().out


async def test_live_figures_say_parallel_now_and_paused(make_app: Any, tmp_path: Path) -> None:
    app = make_app(long_spec(tmp_path), run_on_start=True, clock=None)
    async with app.run_test(size=(200, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        header = app.dashboard.header
        await wait_until(pilot, lambda: "parallel now 3" in str(header.render()))
        assert "speedup so far" in str(header.render())
        await pilot.press("P")
        await wait_until(pilot, lambda: set(statuses(app).values()) == {"paused"})
        await wait_until(pilot, lambda: "● paused" in str(header.render()))
        await pilot.press("P")
        await wait_until(pilot, lambda: "● running" in str(header.render()))
        await pilot.press("C", "y")
        await wait_until(pilot, lambda: not app.running)
        await wait_until(pilot, lambda: "cancelled" in str(header.render()))
        assert "speedup" not in str(header.render())  # no speedup for work that did not complete


async def test_at_80x24_the_footer_starts_with_quit_and_the_keys_help(make_app: Any) -> None:
    from textual.widgets._footer import FooterKey

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPanel))
        await pilot.pause()
        keys = [k for k in app.screen.query(FooterKey) if "-command-palette" not in k.classes]
        assert [k.description for k in keys[:2]] == ["Quit", "Keys"]
        assert all(k.region.right <= 80 for k in keys[:2]) and keys[1].region.width > 0
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: bool(app.screen.query("HelpPanel")))
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: not app.screen.query("HelpPanel"))


async def test_panels_fill_a_tall_terminal_and_share_one_stats_width(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPanel))
        await pilot.pause()
        grid = app.dashboard.grid
        panels = list(grid.panels.values())
        assert len(panels) == 3 and all(p.region.height >= grid.region.height - 1 for p in panels)
        assert len({p._stats_width for p in panels}) == 1


async def test_a_restarted_agent_s_panel_marks_the_new_attempt(make_app: Any, tmp_path: Path) -> None:
    app = make_app(long_spec(tmp_path), run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        await pilot.press("c")
        await wait_until(pilot, lambda: statuses(app)["alpha"] == "cancelled")
        await pilot.press("r")
        await wait_until(pilot, lambda: app.dashboard.view.agents["alpha"].attempt == 2)
        assert "── attempt 2 ──" in list(app.dashboard.view.agents["alpha"].output)
        await pilot.press("C", "y")
        await wait_until(pilot, lambda: not app.running)


NEEDS_KEY = """
[feature]
name = "Needs a key"

[run]
backend = "claude"

[[agents]]
id = "solo"
task = "say hello"
"""


async def test_a_blocking_error_stays_until_dismissed_and_offers_sim(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    spec = tmp_path / "key.toml"
    spec.write_text(NEEDS_KEY, encoding="utf-8")
    app = make_app(spec, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        dash = app.dashboard
        await wait_until(pilot, lambda: isinstance(app.focused, AgentPanel))
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: dash.error_shown)
        box = str(dash.query_one("#run-error").render())
        assert "ANTHROPIC_API_KEY" in box and "S runs it on sim instead" in box and "--backend" not in box
        await pilot.pause(0.5)
        assert dash.error_shown and app.live is None  # still there: no toast that fades
        await pilot.press("x")
        assert not dash.error_shown
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: dash.error_shown)
        await pilot.press("S")
        await wait_until(pilot, lambda: app.live is not None)
        assert not dash.error_shown
        await wait_until(pilot, lambda: not app.running)
        assert app.live.runner.status == "completed"


def test_the_readme_lists_every_binding_id() -> None:
    import re

    from oneie_tui.ui.app import known_binding_ids

    readme = (SPECS.parent / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([a-z_]+)`", readme[readme.index("Every binding id"):]))
    assert known_binding_ids() - listed == set()


async def test_the_palette_offers_oneie_themes_only(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Theme: dark", "Theme: light", "Theme: high-contrast"} <= set(titles)
        assert "Theme" not in titles  # Textual's picker of its own themes
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Theme: light")
        command.callback()
        assert app.theme == "light"


async def test_a_misspelt_keymap_id_suggests_the_closest(make_app: Any, tmp_path: Path) -> None:
    from oneie_tui.paths import config_file

    cfg = config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('[keymap]\npasue = "x"\n', encoding="utf-8")
    app = make_app(long_spec(tmp_path))
    async with app.run_test(size=(160, 44)) as pilot:
        await pilot.pause()
        assert any("did you mean 'pause'" in n.message and "README" in n.message for n in app._notifications)
