"""Real Claude Code CLI agents run from the dashboard: they appear live in their panels
with cost, coordinate through `oneie emit`, and each panel shows its worktree's diff stat."""

from __future__ import annotations

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
