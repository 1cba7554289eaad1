"""A review comment on a diff line goes back to that agent: `c` on the diff's cursor line
opens the comment box, enter posts `MessageAgent(agent, "Review comment on FILE line N:
...")` up to the app; a finished run (history) says comments go to live runs only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from oneie_tui.land.review import diff_lines
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.messages import MessageAgent
from oneie_tui.ui.screens.comment import CommentScreen
from oneie_tui.ui.screens.review import DiffView, ReviewScreen
from tests.tui.review_support import RUN_ID, finished_run
from tests.tui.waiting import wait_until


class CatchingApp(OneieApp):
    """The app, noting every MessageAgent that reaches it."""

    CSS_PATH = str(Path(__file__).resolve().parents[2] / "oneie_tui" / "ui" / "app.tcss")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.said: list[tuple[str, str]] = []

    def on_message_agent(self, message: MessageAgent) -> None:
        self.said.append((message.agent_id, message.text))


@pytest.fixture
def finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Any]:
    return finished_run(tmp_path, monkeypatch)


def _diff_text(screen: ReviewScreen) -> str:
    return "\n".join(line.text for line in screen.query_one("#review-diff", DiffView).lines)


def _live_review(tmp_path: Path, store: Any, published: list[Any]) -> CatchingApp:
    def publish(kind: str, actor: str, metadata: dict[str, Any]) -> None:  # as the live runner's
        published.append((kind, actor, metadata))

    return CatchingApp(None, store_path=tmp_path / "runs.sqlite3", cursor_blink=False,
                       initial_screen_factory=lambda: ReviewScreen(store, RUN_ID, publish=publish))


async def _to_diff(pilot: Any, screen: ReviewScreen) -> DiffView:
    await wait_until(pilot, lambda: "+api was here" in _diff_text(screen))
    files = screen.query_one("#review-files", DataTable)
    await wait_until(pilot, lambda: files.row_count == 1)
    await pilot.press("tab", "tab")  # agents → files → diff
    view = screen.query_one("#review-diff", DiffView)
    assert view.has_focus
    return view


@pytest.mark.anyio
async def test_a_comment_on_a_diff_line_is_posted_to_that_agent(tmp_path: Path, finished: tuple[Path, Any]) -> None:
    _, store = finished
    app = _live_review(tmp_path, store, published := [])
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        view = await _to_diff(pilot, screen)
        spot = view.current()  # the cursor starts on the first line of the file
        assert spot is not None and (spot.path, spot.line, spot.kind) == ("lines.txt", 1, "removed")
        await pilot.press("down")
        spot = view.current()
        assert spot is not None and (spot.line, spot.kind, spot.text) == (1, "added", "api was here")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CommentScreen))
        await pilot.press(*"say hello instead")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.said)
        assert app.said == [("api", "Review comment on lines.txt line 1:\nsay hello instead")]
        assert isinstance(app.screen, ReviewScreen)
        # Two lines further down is context line 3 of the new file; escape sends nothing.
        await pilot.press("down", "down", "c")
        await wait_until(pilot, lambda: isinstance(app.screen, CommentScreen))
        await pilot.press(*"never mind", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CommentScreen))
        await pilot.press(*"and here", "enter")
        await wait_until(pilot, lambda: len(app.said) == 2)
        assert app.said[1] == ("api", "Review comment on lines.txt line 3:\nand here")
    assert published == []  # a comment is a message to the agent, not a review mark
    store.close()


@pytest.mark.anyio
async def test_on_a_header_or_a_finished_run_the_key_says_why_not(tmp_path: Path, finished: tuple[Path, Any]) -> None:
    _, store = finished
    app = _live_review(tmp_path, store, [])
    async with app.run_test(size=(140, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        view = await _to_diff(pilot, screen)
        view.move_cursor(0)  # `diff --git ...`
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and app.said == []
        assert any("put the diff's cursor on a line" in n.message for n in app._notifications)
    finished_app = CatchingApp(None, store_path=tmp_path / "runs.sqlite3", cursor_blink=False,
                               initial_screen_factory=lambda: ReviewScreen(store, RUN_ID))
    async with finished_app.run_test(size=(140, 30)) as pilot:
        screen = finished_app.screen
        assert isinstance(screen, ReviewScreen)
        await _to_diff(pilot, screen)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(finished_app.screen, ReviewScreen) and finished_app.said == []
        assert any("review comments go to live runs only" in n.message for n in finished_app._notifications)
    store.close()


def test_the_comment_box_snapshot(snap_compare: Any, tmp_path: Path, finished: tuple[Path, Any]) -> None:
    _, store = finished
    app = _live_review(tmp_path, store, [])

    async def run_before(pilot: Any) -> None:
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        await _to_diff(pilot, screen)
        await pilot.press("down", "c")
        await wait_until(pilot, lambda: isinstance(app.screen, CommentScreen))
        await pilot.press(*"say hello instead")
        await wait_until(pilot, lambda: app.screen.query_one(Input).value == "say hello instead")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 24), run_before=run_before)
    store.close()


def test_diff_lines_know_each_lines_file_and_number() -> None:
    diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -4,3 +4,3 @@ def f():\n"
        " keep\n--- a removed line that looks like a header\n+++ an added one\n keep too\n"
        'diff --git "a/sp\\303\\251c.txt" "b/sp\\303\\251c.txt"\n--- /dev/null\n+++ "b/sp\\303\\251c.txt"\n@@ -0,0 +1 @@\n+new\n'
    )
    found = [(p.path, p.line, p.kind) if p else None for p in diff_lines(diff)]
    assert found == [
        None, None, None, None,
        ("x.py", 4, "context"), ("x.py", 5, "removed"), ("x.py", 5, "added"), ("x.py", 6, "context"),
        None, None, None, None, ("spéc.txt", 1, "added"),
    ]
    spot = diff_lines(diff)[5]
    assert spot is not None and spot.comment("why?") == (
        "Review comment on x.py line 5 (a line the change removed; numbered as before it):\nwhy?"
    )


SLOW_WRITER = (
    "import os, pathlib, time; pathlib.Path(os.environ['ONEIE_AGENT_ID'] + '.txt').write_text('draft\\n'); "
    "time.sleep(60)"
)


@pytest.mark.anyio
async def test_d_on_a_live_run_then_c_comments_to_the_running_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import tomli_w

    from tests.fakes.process_tools import git_repo

    repo = git_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    spec = tmp_path / "squad.toml"
    spec.write_text(tomli_w.dumps({
        "feature": {"name": "Live review"},
        "run": {"backend": "command", "isolation": "worktree", "radar": {"enabled": False}},
        "agents": [{"id": "writer", "command": {"argv": [sys.executable, "-c", SLOW_WRITER]}}],
    }))
    app = CatchingApp(spec, run_on_start=True, clock=None, cursor_blink=False, store_path=tmp_path / "runs.sqlite3")
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and (repo / ".oneie").exists()
                         and any(p.name == "writer.txt" for p in (repo / ".oneie").rglob("writer.txt")), rounds=3000)
        assert app.live is not None and app.live.runner.status == "running"
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.publish is not None  # live: through the runner
        await wait_until(pilot, lambda: "+draft" in _diff_text(screen), rounds=3000)
        await pilot.press("tab", "tab")
        spot = screen.query_one("#review-diff", DiffView).current()
        assert spot is not None and (spot.path, spot.line, spot.kind) == ("writer.txt", 1, "added")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CommentScreen))
        await pilot.press(*"write the final text", "enter")
        await wait_until(pilot, lambda: app.said)
        assert app.said == [("writer", "Review comment on writer.txt line 1:\nwrite the final text")]
        runner = app.live.runner
        runner.cancel_run("test over")  # the agent's process ends with the run
        await wait_until(pilot, lambda: runner.status != "running", rounds=3000)
