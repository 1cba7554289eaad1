"""Across features: a run of command agents in worktrees completes, `d` opens its review,
`c` on a diff line of one agent sends that agent the comment, and the real app's runner
continues the finished agent in a follow-up attempt, in the same worktree, with the
comment as the first line on its stdin (docs/process-backends.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import tomli_w
from textual.widgets import DataTable

from oneie_tui.events import EventType
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.screens.comment import CommentScreen
from oneie_tui.ui.screens.review import DiffView, ReviewScreen
from tests.fakes.process_tools import git_repo
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio

# First attempt: write AGENT.txt and end. A later attempt finds it (same folder) and
# writes the first line of its stdin (the message) to heard.txt. Both print their folder.
WORKER = """
import os, pathlib, sys
me = os.environ["ONEIE_AGENT_ID"]
print("cwd " + os.getcwd())
mine = pathlib.Path(me + ".txt")
if not mine.exists():
    mine.write_text("draft by " + me + "\\n")
    sys.exit(0)
heard = sys.stdin.readline().rstrip("\\n")
pathlib.Path("heard.txt").write_text(heard + "\\n")
print("heard " + heard)
"""

COMMENT = "make it final"


def _spec(tmp_path: Path) -> Path:
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER, encoding="utf-8")
    spec = tmp_path / "squad.toml"
    agent = {"command": {"argv": [sys.executable, str(worker)], "stdin": True}}
    spec.write_text(tomli_w.dumps({
        "feature": {"name": "Comment follow-up"},
        "run": {"backend": "command", "isolation": "worktree", "radar": {"enabled": False}},
        "agents": [{"id": "api", **agent}, {"id": "web", **agent}],
    }))
    return spec


def _diff_text(screen: ReviewScreen) -> str:
    return "\n".join(line.text for line in screen.query_one("#review-diff", DiffView).lines)


def _outputs(app: OneieApp, agent: str) -> list[str]:
    assert app.store is not None and app.live is not None
    return [str(e.metadata.get("text", "")) for e in app.store.events(app.live.runner.run_id)
            if e.type == EventType.AGENT_OUTPUT and e.actor == agent]


def _app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, OneieApp]:
    """A repository to work in, and the dashboard that runs the two agents there."""
    repo = git_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    app = OneieApp(_spec(tmp_path), run_on_start=True, clock=None, cursor_blink=False,
                   store_path=tmp_path / "runs.sqlite3")
    return repo, app


def _finished(app: OneieApp) -> bool:
    return app.live is not None and app.live.runner.status == "completed" and not app.running


async def test_a_review_comment_continues_the_finished_agent_in_its_worktree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, app = _app(tmp_path, monkeypatch)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_until(pilot, lambda: _finished(app), rounds=3000)
        runner = app.live.runner
        assert {a: s.attempt for a, s in runner.agents.items()} == {"api": 1, "web": 1}
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.takes_messages and screen.publish is None  # held, not live
        agents = screen.query_one("#review-agents", DataTable)
        await wait_until(pilot, lambda: agents.row_count == 2 and "+draft by api" in _diff_text(screen), rounds=3000)
        await pilot.press("down")  # the second agent: web
        await wait_until(pilot, lambda: "+draft by web" in _diff_text(screen), rounds=3000)
        await pilot.press("tab", "tab")  # agents → files → diff
        view = screen.query_one("#review-diff", DiffView)
        assert view.has_focus
        spot = view.current()
        assert spot is not None and (spot.path, spot.line, spot.kind) == ("web.txt", 1, "added")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CommentScreen))
        await pilot.press(*COMMENT, "enter")
        await wait_until(pilot, lambda: runner.agents["web"].attempt == 2 and runner.status == "completed"
                         and not app.running, rounds=3000)
        assert app.store is not None
        events = list(app.store.events(runner.run_id))
        said = [e for e in events if e.type == EventType.AGENT_MESSAGE]
        assert [(e.actor, e.metadata["delivery"], e.metadata["attempt"]) for e in said] == [("web", "followup", 2)]
        text = str(said[0].metadata["text"])
        assert text.startswith("Review comment on web.txt line 1:") and text.endswith(COMMENT)
        # Recorded like a restart: queued again as attempt 2; api was left alone.
        queued = [(e.actor, e.metadata.get("attempt")) for e in events if e.type == EventType.AGENT_QUEUED]
        assert ("web", 2) in queued and ("api", 2) not in queued
        assert runner.agents["web"].status == "completed" and runner.agents["api"].attempt == 1
        # Same folder both times, and the message was the first line on its stdin (the
        # comment's own newline became a space).
        folders = {line for line in _outputs(app, "web") if line.startswith("cwd ")}
        assert len(folders) == 1 and Path(folders.pop()[4:]) != repo
        assert f"heard {text.replace(chr(10), ' ')}" in _outputs(app, "web")
        worktree = Path(next(line for line in _outputs(app, "web") if line.startswith("cwd "))[4:])
        assert (worktree / "heard.txt").read_text() == text.replace("\n", " ") + "\n"


async def test_the_review_from_the_history_of_the_held_run_takes_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oneie_tui.ui.screens.history import HistoryScreen

    _, app = _app(tmp_path, monkeypatch)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_until(pilot, lambda: _finished(app), rounds=3000)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.pause()
        await pilot.press("v")  # the run the dashboard holds: comments continue its agents
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.takes_messages
        assert app.live is not None and screen.run_id == app.live.runner.run_id
