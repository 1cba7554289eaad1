"""The review screen: agents with diff stat and conflict state, files and the git diff,
accept/reject marks recorded in the run, landing from the screen; from history too."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from oneie_tui.events import EventType
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.screens.history import HistoryScreen
from oneie_tui.ui.screens.review import DiffView, ReviewScreen
from tests.tui.review_support import RUN_ID, finished_run
from tests.tui.waiting import wait_until


@pytest.fixture
def finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Any]:
    return finished_run(tmp_path, monkeypatch)  # outside the event loop: it runs the squad


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def _diff_text(screen: ReviewScreen) -> str:
    view = screen.query_one("#review-diff", DiffView)
    return "\n".join(line.text for line in view.lines)


@pytest.mark.anyio
async def test_review_marks_and_lands_without_touching_the_user(tmp_path: Path, finished: tuple[Path, Any]) -> None:
    repo, store = finished
    head = _git(repo, "rev-parse", "HEAD")
    app = OneieApp(None, store_path=tmp_path / "runs.sqlite3", cursor_blink=False,
                   initial_screen_factory=lambda: ReviewScreen(store, RUN_ID))
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        agents = screen.query_one("#review-agents", DataTable)
        await wait_until(pilot, lambda: agents.row_count == 3 and "+api was here" in _diff_text(screen))
        row = [str(c) for c in agents.get_row("api")]
        assert row[:3] == ["api", "completed", "1 file changed, +1 -1"]
        assert row[3] == "web (lines)"
        await pilot.press("down")  # web
        await wait_until(pilot, lambda: "+web was here" in _diff_text(screen))
        assert "-line 0" in _diff_text(screen)
        await pilot.press("x")  # reject web
        await pilot.press("down", "a")  # accept docs
        marks = [(e.actor, e.metadata["verdict"]) for e in store.events(RUN_ID) if e.type == EventType.AGENT_REVIEWED]
        assert marks == [("web", "rejected"), ("docs", "accepted")]
        assert str(agents.get_row("web")[-1]) == "rejected"
        await pilot.press("L")
        await wait_until(pilot, lambda: any(e.type == EventType.LAND_FINISHED for e in store.events(RUN_ID)), rounds=3000)
        landed = [e.actor for e in store.events(RUN_ID) if e.type == EventType.AGENT_LANDED]
        assert landed == ["api", "docs"]  # web was rejected, so not even tried
        # Opened again (as from history), the screen shows that landing.
        await app.push_screen(ReviewScreen(store, RUN_ID))
        again = app.screen
        assert isinstance(again, ReviewScreen)
        title = again.query_one("#review-title")
        await wait_until(pilot, lambda: "last landing: landed into oneie/" in str(title.render()))
    assert sorted(_git(repo, "ls-tree", "--name-only", f"oneie/{RUN_ID}/landed").split()) == ["README.md", "docs.md", "lines.txt"]
    assert _git(repo, "rev-parse", "HEAD") == head and _git(repo, "status", "--porcelain") == ""
    store.close()


@pytest.mark.anyio
async def test_review_is_reachable_from_history(tmp_path: Path, finished: tuple[Path, Any]) -> None:
    _, store = finished
    app = OneieApp(None, store_path=tmp_path / "runs.sqlite3", cursor_blink=False,
                   initial_screen_factory=lambda: HistoryScreen(store))
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.run_id == RUN_ID
        await wait_until(pilot, lambda: screen.query_one("#review-agents", DataTable).row_count == 3)
        await pilot.press("escape")
        assert isinstance(app.screen, HistoryScreen)
    store.close()


def test_review_screen_snapshot(snap_compare: Any, tmp_path: Path, finished: tuple[Path, Any]) -> None:
    _, store = finished
    app = OneieApp(None, store_path=tmp_path / "runs.sqlite3", cursor_blink=False,
                   initial_screen_factory=lambda: ReviewScreen(store, RUN_ID))

    async def run_before(pilot: Any) -> None:
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        await wait_until(pilot, lambda: "+api was here" in _diff_text(screen))
        table = screen.query_one("#review-agents", DataTable)
        files = screen.query_one("#review-files", DataTable)
        # the tables measure their rows when idle, and the file's own diff comes from a
        # worker after the first row is highlighted: wait for all of it
        await wait_until(pilot, lambda: table.ordered_columns[1].content_width >= len("completed"))
        await wait_until(pilot, lambda: files.row_count == 1 and files.ordered_columns[0].content_width >= len("lines.txt"))
        # and until the table is drawn at those widths (it applies them on a later refresh)
        await wait_until(pilot, lambda: "1 file changed, +1 -1" in app.export_screenshot().replace("&#160;", " "))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 24), run_before=run_before)
    store.close()


WRITER = "import os, pathlib; pathlib.Path(os.environ['ONEIE_AGENT_ID'] + '.txt').write_text('x\\n')"


@pytest.mark.anyio
async def test_v_on_the_dashboard_reviews_the_run_on_screen(
    make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import tomli_w

    from tests.fakes.process_tools import git_repo

    repo = git_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)  # the project the dashboard's run works in
    spec = tmp_path / "squad.toml"
    spec.write_text(tomli_w.dumps({
        "feature": {"name": "Dashboard review"},
        "run": {"backend": "command", "isolation": "worktree"},
        "agents": [{"id": a, "command": {"argv": [sys.executable, "-c", WRITER]}} for a in ("one", "two")],
    }))
    app = make_app(spec, run_on_start=True, clock=None)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and app.live.runner.status == "completed", rounds=3000)
        run_id = app.live.runner.run_id
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.run_id == run_id and screen.publish is None
        agents = screen.query_one("#review-agents", DataTable)
        await wait_until(pilot, lambda: agents.row_count == 2 and "+x" in _diff_text(screen))
        assert [str(c) for c in agents.get_row("two")][:3] == ["two", "completed", "1 file changed, +1 -0"]
