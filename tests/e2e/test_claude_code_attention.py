"""Attention and permissions with the real Claude Code CLI against the scripted Messages
API server (issue 16): a refused tool call becomes `agent_attention` and the run says it
completed with denials; an isolated agent with no tool settings may write files in its
own worktree (acceptEdits by default). The login preflight with the real CLI is in
tests/unit/test_claude_code_login.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from oneie_tui.cli import main
from oneie_tui.events import EventType
from oneie_tui.store.sqlite import RunStore
from tests.fakes.anthropic_server import (
    RecordedRequest,
    Reply,
    ScriptedAnthropicServer,
    text,
    tool_use,
)
from tests.fakes.claude_code_script import agent_of, claude_cli
from tests.fakes.process_tools import git_repo, loaded, of_type, outputs, run_spec, status_of

pytestmark = [pytest.mark.claude_code, pytest.mark.slow, pytest.mark.usefixtures("offline_claude_cli")]



def writes_a_file(name: str, then: str) -> Callable[[RecordedRequest], Reply]:
    """The agent's first reply is a Write of `name` in its folder (the prompt names it),
    its second `then`."""

    def answer(req: RecordedRequest) -> Reply:
        if agent_of(req, ["agent-writer"]) is None:
            return text("ok")
        if req.tool_results:
            return text(then)
        folder = re.search(r"Work inside the current folder \((.+?)\); it is yours alone", req.text())
        assert folder, "the prompt names the agent's folder"
        return tool_use("Write", {"file_path": f"{folder.group(1)}/{name}", "content": "written by the agent\n"})

    return answer


def _agent(cli: str, **opts: object) -> dict[str, object]:
    return {"id": "agent-writer", "role": "writer", "task": "write notes.txt with the Write tool",
            "claude_code": {"cli": cli, "max_turns": 6, **opts}}


def test_a_denied_write_is_attention_and_the_run_completes_with_denials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = claude_cli()
    project = tmp_path / "project"
    project.mkdir()
    # Not isolated, no tool settings: the CLI's default mode refuses Write headless.
    spec = loaded([_agent(cli)], backend="claude-code")
    store = RunStore(tmp_path / "runs.sqlite3")
    try:
        with ScriptedAnthropicServer(writes_a_file("notes.txt", "I could not write it. Should I try Bash?")) as srv:
            runner, events = run_spec(spec, project, store=store, base_url=srv.base_url)
    finally:
        store.close()
    assert status_of(events, "agent-writer") == "completed", outputs(events, "agent-writer")
    assert not (project / "notes.txt").exists()
    found = [e.metadata for e in of_type(events, EventType.AGENT_ATTENTION, "agent-writer")]
    denied = [m for m in found if m["reason"] == "permission_denied"]
    assert len(denied) == 1 and denied[0]["tools"] == ["Write"]  # once, from the tool result
    assert "haven't granted it yet" in denied[0]["text"] and "notes.txt" in denied[0]["text"]
    assert [m["text"] for m in found if m["reason"] == "question"] == ["I could not write it. Should I try Bash?"]
    summary = runner.summary()
    assert runner.status == "completed"
    assert summary["outcome"] == "completed with denials (1 denied)"
    assert summary["agents"][0]["denials"] == 1
    # The history and the report say so too, from the store.
    store_arg = ["--store", str(tmp_path / "runs.sqlite3")]
    assert main(["runs", *store_arg]) == 0
    assert "completed with denials" in capsys.readouterr().out
    assert main(["export", "last", "--format", "md", *store_arg]) == 0
    report = capsys.readouterr().out
    assert "Outcome: completed with denials (1 denied)" in report
    assert "- Needs you: 1 denied, question" in report and "haven't granted it yet" in report


def test_an_isolated_agent_with_no_tool_settings_writes_in_its_worktree(tmp_path: Path) -> None:
    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    spec = loaded([_agent(cli)], backend="claude-code", isolation="worktree")
    with ScriptedAnthropicServer(writes_a_file("notes.txt", "Wrote notes.txt.")) as srv:
        runner, events = run_spec(spec, repo, base_url=srv.base_url)
    assert status_of(events, "agent-writer") == "completed", outputs(events, "agent-writer")
    wt = repo / ".oneie/worktrees" / runner.run_id / "agent-writer"
    assert (wt / "notes.txt").read_text() == "written by the agent\n"
    assert not (repo / "notes.txt").exists()
    infos = [e.metadata for e in of_type(events, EventType.AGENT_INFO, "agent-writer")]
    assert any(i.get("permission_mode") == "acceptEdits" for i in infos)  # the CLI's own init line
    assert of_type(events, EventType.AGENT_ATTENTION) == []
    assert runner.summary()["outcome"] == "completed"
