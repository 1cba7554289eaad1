"""Real Claude Code CLI agents run from the dashboard: they appear live in their panels
with cost, coordinate through `oneie emit`, and each panel shows its worktree's diff stat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.session import RunOptions
from oneie_tui.ui import format as fmt
from tests.fakes.anthropic_server import ScriptedAnthropicServer, bash, text
from tests.fakes.claude_code_script import by_agent_and_step, claude_cli
from tests.fakes.process_tools import git_repo, spec_text

pytestmark = [pytest.mark.anyio, pytest.mark.claude_code, pytest.mark.slow, pytest.mark.usefixtures("offline_claude_cli")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"



async def test_cli_agents_run_live_in_the_dashboard_with_cost(tmp_path: Path) -> None:
    from oneie_tui.ui.app import OneieApp

    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    agents = ["agent-backend", "agent-frontend"]
    scripts = {
        "agent-backend": [bash("echo backend > backend.txt && echo wrote"), bash("oneie emit schema_ready"),
                          text("Schema is ready.")],
        "agent-frontend": [bash("echo frontend > frontend.txt && echo wrote"), text("Frontend done.")],
    }
    common = {"backend": "claude-code", "claude_code": {"cli": cli, "allowed_tools": ["Bash"], "max_turns": 6}}
    spec = repo / "squad.toml"
    spec.write_text(
        spec_text(
            [
                {"id": "agent-backend", "role": "backend", "task": "schema", "emits": ["schema_ready"], **common},
                {"id": "agent-frontend", "role": "frontend", "task": "forms", "after": ["schema_ready"], **common},
            ],
            backend="claude-code",
            isolation="worktree",
        ),
        encoding="utf-8",
    )
    with ScriptedAnthropicServer(by_agent_and_step(scripts)) as srv:
        app = OneieApp(
            spec,
            store_path=tmp_path / "runs.sqlite3",
            run_on_start=True,
            options=RunOptions(backend_options=BackendOptions(base_url=srv.base_url, project_dir=str(repo))),
            cursor_blink=False,
        )
        async with app.run_test(size=(160, 44)) as pilot:
            for _ in range(3000):  # a bound on rounds (60 s), not a speed target
                if app.live is not None and not app.running and app.live.runner.status != "pending":
                    break
                await pilot.pause(0.02)
            await pilot.pause(0.2)  # one more frame folds the last events
            app.dashboard.show_editor(False)  # type: ignore[union-attr]  # room for every stat
            await pilot.pause(0.2)
            runner = app.live.runner  # type: ignore[union-attr]
            statuses = {a: s.status for a, s in runner.agents.items()}
            dashboard = app.dashboard
            assert dashboard is not None
            view = dashboard.bridge.view
            panels = {a: dashboard.grid.panels[a]._stats() for a in agents}
            shown_costs = {a: view.agents[a].cost_usd for a in agents}
            diff_stats = {a: view.agents[a].extra.get("diff_stat") for a in agents}
            fired = [e for e in view.timeline if e.type == "task_event"]

    assert statuses == dict.fromkeys(agents, "completed"), {a: s.reason for a, s in runner.agents.items()}
    assert [e.action for e in fired if e.action != "task_failed"] == ["schema_ready"]
    for agent in agents:
        cost = shown_costs[agent]
        # Events carry cost rounded to 6 decimals; the runner keeps the exact sum.
        assert cost > 0 and cost == pytest.approx(runner.agents[agent].usage.cost_usd, abs=1e-5)
        assert fmt.money(cost) in panels[agent]  # the panel shows what the CLI spent
        # ... and what it changed in its own worktree.
        assert diff_stats[agent] == "1 file changed, +1 -0"
        assert diff_stats[agent] in panels[agent], panels[agent]


async def test_a_review_comment_continues_the_claude_code_session(tmp_path: Path) -> None:
    """The run ends; `d`, a diff line, `c`, a comment, enter: the finished claude-code agent
    resumes its session in its worktree with the comment as the prompt (issue 15)."""
    from textual.widgets import DataTable

    from oneie_tui.events import EventType
    from oneie_tui.ui.app import OneieApp
    from oneie_tui.ui.screens.comment import CommentScreen
    from oneie_tui.ui.screens.review import DiffView, ReviewScreen
    from tests.fakes.anthropic_server import RecordedRequest, Reply
    from tests.tui.waiting import wait_until

    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    steps = by_agent_and_step({"agent-solo": [bash("echo one > solo.txt && echo wrote"), text("Wrote solo.txt.")]})

    def script(req: RecordedRequest) -> Reply:
        return text("Made it two.") if "say two instead" in req.text() else steps(req)

    spec = repo / "squad.toml"
    spec.write_text(spec_text([{
        "id": "agent-solo", "role": "backend", "task": "write solo.txt", "backend": "claude-code",
        "claude_code": {"cli": cli, "allowed_tools": ["Bash"], "max_turns": 6},
    }], backend="claude-code", isolation="worktree"), encoding="utf-8")
    with ScriptedAnthropicServer(script) as srv:
        app = OneieApp(
            spec, store_path=tmp_path / "runs.sqlite3", run_on_start=True, cursor_blink=False,
            options=RunOptions(backend_options=BackendOptions(base_url=srv.base_url, project_dir=str(repo))),
        )
        async with app.run_test(size=(140, 30)) as pilot:
            await wait_until(pilot, lambda: app.live is not None and app.live.runner.status == "completed"
                             and not app.running, rounds=3000)
            runner = app.live.runner  # type: ignore[union-attr]
            before = len(srv.message_requests())
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
            screen = app.screen
            assert isinstance(screen, ReviewScreen)
            diff = screen.query_one("#review-diff", DiffView)
            await wait_until(pilot, lambda: screen.query_one("#review-files", DataTable).row_count == 1
                             and any(line.text == "+one" for line in diff.lines), rounds=3000)
            await pilot.press("tab", "tab")
            spot = diff.current()
            assert spot is not None and (spot.path, spot.line, spot.kind) == ("solo.txt", 1, "added")
            await pilot.press("c")
            await wait_until(pilot, lambda: isinstance(app.screen, CommentScreen))
            await pilot.press(*"say two instead", "enter")
            await wait_until(pilot, lambda: runner.agents["agent-solo"].attempt == 2
                             and runner.status == "completed" and not app.running, rounds=3000)
            later = srv.message_requests()[before:]
            assert app.store is not None
            events = list(app.store.events(runner.run_id))
    infos = [e.metadata for e in events if e.type == EventType.AGENT_INFO and e.actor == "agent-solo"]
    session = next(str(i["session_id"]) for i in infos if i.get("session_done"))
    assert any(i.get("resumed_session") == session for i in infos)
    folders = {str(i["cwd"]) for i in infos if "cwd" in i}
    assert len(folders) == 1 and folders != {str(repo)}
    comment = "Review comment on solo.txt line 1:\nsay two instead"
    asked = [r for r in later if "say two instead" in r.text()]
    history = json.dumps(asked[0].body.get("messages", [])) if asked and isinstance(asked[0].body, dict) else ""
    assert "echo one > solo.txt" in history  # the tool call of its first attempt: the same session
    said = [e.metadata for e in events if e.type == EventType.AGENT_MESSAGE]
    assert said == [{"text": comment, "attempt": 2, "delivery": "followup"}]
    assert runner.agents["agent-solo"].summary == "Made it two."
