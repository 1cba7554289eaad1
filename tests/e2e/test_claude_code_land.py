"""Landing end to end with the real Claude Code CLI against the scripted Messages API
server: three agents edit files in their worktrees with the Bash tool, two of them the
same line. The radar flags the pair while they run; `oneie land` merges the clean ones,
reports the other, and runs the acceptance check on the landed tree. Landing again with
`--resolve-with agent-fixer` hands the conflict to a Claude Code resolver, whose
resolution lands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from oneie_tui.events import EventType
from oneie_tui.spec.loader import LoadedSpec, parse_spec_text
from oneie_tui.store.sqlite import RunStore
from tests.fakes.anthropic_server import ScriptedAnthropicServer, bash, text
from tests.fakes.claude_code_script import by_agent_and_step, claude_cli
from tests.fakes.process_tools import PY, git_repo, of_type, outputs, run_spec, status_of

pytestmark = [pytest.mark.claude_code, pytest.mark.slow, pytest.mark.usefixtures("offline_claude_cli")]



FIX = (
    'if [ -n "$ONEIE_RESOLVE_AGENT" ]; then printf "api was here\\nweb was here\\nline 1\\n" > lines.txt '
    '&& git add lines.txt && echo "resolved $ONEIE_RESOLVE_AGENT"; else echo nothing to resolve; fi'
)
CHECK = "import pathlib, sys; sys.exit(0 if pathlib.Path('notes.txt').exists() and pathlib.Path('lines.txt').read_text().startswith('api') else 1)"


def test_radar_flags_the_overlap_and_land_merges_the_clean_agents(tmp_path: Path) -> None:
    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    (repo / "lines.txt").write_text("line 0\nline 1\n")
    subprocess.run(["git", "add", "lines.txt"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "lines"], cwd=repo, check=True)
    # Each writes, then keeps working a moment (the radar looks meanwhile), then ends.
    scripts = {
        "agent-api": [bash("printf 'api was here\\nline 1\\n' > lines.txt && echo wrote"), bash("sleep 2 && echo tested"), text("API done.")],
        "agent-web": [bash("printf 'web was here\\nline 1\\n' > lines.txt && echo wrote"), bash("sleep 2 && echo styled"), text("Web done.")],
        "agent-notes": [bash("echo notes > notes.txt && echo wrote"), bash("sleep 2 && echo read"), text("Notes done.")],
        # The resolver: nothing to do in the run; handed the conflict, it keeps both lines.
        "agent-fixer": [bash(FIX), text("Fixer done.")],
    }
    agents = [
        {"id": a, "role": a.removeprefix("agent-"), "task": f"edit as {a}", "backend": "claude-code",
         "claude_code": {"cli": cli, "allowed_tools": ["Bash"], "max_turns": 8}}
        for a in scripts
    ]
    text_ = tomli_w.dumps({
        "feature": {"name": "Land e2e", "acceptance": [{"text": "api line and notes landed", "check": [PY, "-c", CHECK]}]},
        "run": {"backend": "claude-code", "isolation": "worktree", "radar": {"interval": 0.2}},
        "agents": agents,
    })
    spec = LoadedSpec(parse_spec_text(text_), None, text_)
    store_path = tmp_path / "runs.sqlite3"
    store = RunStore(store_path)
    with ScriptedAnthropicServer(by_agent_and_step(scripts)) as srv:
        try:
            runner, _ = run_spec(spec, repo, store=store, base_url=srv.base_url)
        finally:
            store.close()
        _land_then_resolve(repo, store_path, runner.run_id, srv)  # the resolver needs the server too


def _land_then_resolve(repo: Path, store_path: Path, run_id: str, srv: ScriptedAnthropicServer) -> None:
    store = RunStore(store_path)
    try:
        events = list(store.events(run_id))
    finally:
        store.close()
    scripts = ("agent-api", "agent-web", "agent-notes", "agent-fixer")
    for agent in scripts:
        assert status_of(events, agent) == "completed", (agent, outputs(events, agent))

    found = [e for e in of_type(events, EventType.CONFLICT_DETECTED) if set(e.metadata["agents"]) == {"agent-api", "agent-web"}]
    assert found and found[0].metadata["kind"] == "same_lines" and found[0].metadata["paths"] == ["lines.txt"]
    ended = min(of_type(events, "agent_completed", a)[0].seq for a in ("agent-api", "agent-web"))
    assert found[0].seq < ended  # flagged while both were still working
    assert not [e for e in of_type(events, EventType.CONFLICT_DETECTED) if "agent-notes" in e.metadata["agents"]]

    done = subprocess.run(
        [sys.executable, "-m", "oneie_tui", "land", run_id, "--json", "--store", str(store_path)],
        cwd=repo, env=dict(os.environ), capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # agent-web is left out
    result = json.loads(done.stdout)
    assert result["landed"] == ["agent-api", "agent-notes", "agent-fixer"]  # the fixer changed nothing
    assert result["left_out"] == {"agent-web": {"reason": "conflicts", "paths": ["lines.txt"], "conflicts_with": ["agent-api"]}}
    assert [c["passed"] for c in result["acceptance"]] == [True]
    landed = f"oneie/{run_id}/landed"
    show = subprocess.run(["git", "show", f"{landed}:lines.txt"], cwd=repo, capture_output=True, text=True, check=True)
    assert show.stdout.startswith("api was here")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    assert status.stdout == ""

    # Again, with the Claude Code resolver: it gets the conflict and its resolution lands.
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout
    again = subprocess.run(
        [sys.executable, "-m", "oneie_tui", "land", run_id, "--json", "--resolve-with", "agent-fixer", "--store", str(store_path)],
        cwd=repo, env={**os.environ, "ANTHROPIC_BASE_URL": srv.base_url}, capture_output=True, text=True, timeout=180, check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    result = json.loads(again.stdout)
    assert result["resolved_by"] == {"agent-web": "agent-fixer"} and result["left_out"] == {}
    assert [c["passed"] for c in result["acceptance"]] == [True]
    show = subprocess.run(["git", "show", f"{landed}:lines.txt"], cwd=repo, capture_output=True, text=True, check=True)
    assert show.stdout == "api was here\nweb was here\nline 1\n"
    asked = [r.text() for r in srv.message_requests() if "resolving a merge conflict" in r.text()]
    assert asked and "oneie/" in asked[0] and "agent-web" in asked[0] and "<<<<<<<" in asked[0]
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout == head
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    assert status.stdout == ""
