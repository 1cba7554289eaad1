"""The plan screen (before a run) and the lints in the editor's live validation."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot

from oneie_tui.paths import config_file
from oneie_tui.ui.screens.plan import PlanScreen
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio
WIDE = (160, 44)

LINTED = """[feature]
name = "Course CRUD"
description = "Users create courses with lessons."
acceptance = ["Users can create courses"]

[feature.ontology]
things = ["course", "lesson"]

[run]
cycle = "12m"

[[agents]]
id = "agent-backend"
role = "backend"
task = "Build something"
estimate = "2h"
cycles = "11-20"
emits = ["schema_ready"]

[[agents]]
id = "agent-frontend"
role = "frontend"
task = "Course list and forms, once the backend is done"
estimate = "2h"
cycles = "21-30"

[[agents]]
id = "agent-integration"
role = "integration"
task = "Wire course events [bold]into[/] the event system"
estimate = "2h"
after = ["schema_ready"]
"""


def linted_spec(tmp_path: Path) -> Path:
    path = tmp_path / "linted.toml"
    path.write_text(LINTED, encoding="utf-8")
    return path


async def test_plan_key_opens_the_plan_of_the_editors_spec(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        app.dashboard.grid.focus_first()
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanScreen))
        screen = app.screen
        assert screen.plan.speedup == pytest.approx(2.5)
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(screen.shown)
        body = console.export_text()
        assert "2.50x" in body and "No lint warnings." in body
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, PlanScreen))
        assert app.live is None  # planning starts nothing


async def test_plan_key_is_remappable(make_app: Any) -> None:
    cfg = config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('[keymap]\nplan = "z"\n', encoding="utf-8")
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        app.dashboard.grid.focus_first()
        await pilot.press("z")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanScreen))


async def test_editor_shows_the_first_lint_as_a_warning(make_app: Any, tmp_path: Path) -> None:
    app = make_app(linted_spec(tmp_path))
    async with app.run_test(size=WIDE) as pilot:
        editor = app.dashboard.editor
        status = editor.query_one("#spec-status")
        await wait_until(pilot, lambda: status.has_class("-warn"))
        text = str(status.render())
        assert "line 15: agents[0].task:" in text and "[vague-task]" in text and "+1 more" in text
        assert editor.error is None and editor.spec is not None  # a warning, not an error
        # Fix the task: the warning goes, the other one stays.
        area = editor.text_area
        area.replace('"Course schema and API"', (14, 7), (14, 24))
        await wait_until(pilot, lambda: "sequential-in-parallel" in str(status.render()))
        assert "+1 more" not in str(status.render())


def open_plan(spec: Path | None = None) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await pilot.pause()
        app.dashboard.grid.focus_first()
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanScreen))
        await pilot.pause()

    return run_before


def test_plan_snapshot_course_crud(snap_compare: Any, make_app: Any) -> None:
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=open_plan())


def test_plan_snapshot_with_cycles_and_lints(snap_compare: Any, make_app: Any, tmp_path: Path) -> None:
    assert snap_compare(make_app(linted_spec(tmp_path)), terminal_size=WIDE, run_before=open_plan())
